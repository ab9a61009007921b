"""Autotask PSA (Datto/Kaseya) REST API v1.0.

``base_url`` is the zone-discovery root, ``https://webservices.autotask.net/ATServicesRest/``
(any zone's root works too). The connector asks it for the API user's zone and
then talks to that zone only.

Wire facts this module relies on, confirmed with public sources (Autotask's
REST OpenAPI specs in api-evangelist/kaseya, Autotask developer help pages,
and clients that have run against the real API: django-autotask,
apigrate/autotask-restapi, n8n-nodes-autotask, KelvinTegelaar/AutotaskAPI):

- Zone discovery ``GET {root}V1.0/zoneInformation?user={username}`` needs no
  auth and answers ``{"url": ".../ATServicesRest/", "webUrl": ...}``; an unknown
  user answers 500 ``{"errors": ["Zone information could not be determined"]}``.
  Zone URLs are ``https://webservices{N}.autotask.net/ATServicesRest/`` (the
  zone-information OpenAPI spec's server, clients' notes); since the answer
  is unauthenticated and then receives the credentials, psad accepts nothing
  else unless the integration's ``zone_hosts`` says so (the simulator, a proxy).
  The zone is cached; a 401 makes the connector look the zone up again (the
  :class:`psad.http.Authenticator` ``refresh`` hook) and, if it moved, retry
  the call once on the new zone (django-autotask re-checks the zone the same way).
- Every call carries ``ApiIntegrationCode``, ``UserName``, ``Secret`` and
  ``Content-Type: application/json`` (optional ``ImpersonationResourceId``).
  Autotask answers 500, not 401, for an unknown user name or integration code,
  and 401 for a wrong secret; error bodies are ``{"errors": ["..."]}``.
- Lists are ``POST {zone}V1.0/{Entity}/query`` with ``{"MaxRecords": 500,
  "IncludeFields": [...], "filter": [...]}`` (a filter is required;
  ``{"op": "gte", "field": "id", "value": 0}`` selects everything); results
  ``{"items", "pageDetails": {"nextPageUrl", ...}}``, at most 500, in id order.
  psad follows ``nextPageUrl`` by POSTing the same body (a GET there is 405).
  Should a next-page URL expire, it continues with ``id gt <last id>``.
- Changed-since filters (op ``gt``, UTC ISO timestamps): Companies
  ``lastTrackedModifiedDateTime`` or ``lastActivityDate``, Contacts
  ``lastModifiedDate`` or ``lastActivityDate`` (an ``or`` group, so either
  stamp moving is enough), ConfigurationItems ``lastModifiedTime``.
  CompanyLocations have no such field: sites are always fetched in full.
- ``GET {Entity}/{id}`` answers ``{"item": null}`` (200) for a missing record.
- Picklists (ticket queues, statuses, priorities; company types) come from
  ``{Entity}/entityInformation/fields``, values as strings; UDF definitions
  from ``{Entity}/entityInformation/userDefinedFields``; records carry UDFs as
  ``userDefinedFields: [{name, value}]``, values as strings.
- Contacts' ``isActive`` is 0/1; Autotask stores and returns all times in UTC.
- Limits: 10,000 requests per rolling hour per Autotask *database*, shared
  with every other integration, with latency injected from 50 % and refusals
  past 100 %; usage is at ``GET V1.0/ThresholdInformation`` →
  ``{"externalRequestThreshold", "requestThresholdTimeframe" (minutes),
  "currentTimeframeRequestCount"}``. psad checks it every 100 requests or
  60 s, spaces its calls to the database's sustainable pace (timeframe /
  threshold) from 50 % and waits from 90 %. At most 3 concurrent requests per
  object endpoint and tracking identifier (a 4th answers 429 "API thread
  threshold of 3 threads has been exceeded"); ``ThresholdInformation`` counts
  as an endpoint, ``zoneInformation`` does not. psad keeps per-endpoint slots
  (one for ``ThresholdInformation``); 429s are retried with back-off by the
  shared client, and a 429 that outlasts its retries forces a usage check
  and one more try.
- Ticket deep link: ``{webUrl}Autotask/AutotaskExtend/ExecuteCommand.aspx?
  Code=OpenTicketDetail&TicketID={id}``. The only system "closed" status is
  Complete (value 5).

Inferred, with the connector tolerant of the alternatives where cheap: the
``zoneName``/``ci`` keys of zone information (unused); timestamps with or
without a zone suffix (read as UTC either way); picklist values as strings or
numbers; ``userDefinedFields`` as a list or a ``{name: value}`` object; UDF
``type`` names (anything with int/double/decimal/number reads as a number,
anything with date as a date; list UDFs read as their labels); whether
``ThresholdInformation`` itself counts against the budget (psad does not
count it); 429s with or without ``Retry-After``.

Vendor gaps and how they are mapped:

- Company status: Autotask has none; psad derives ``Active``/``Inactive`` from
  ``isActive`` and reports those two as the company statuses (Active default).
- Company types: the single ``companyType`` picklist label.
- Sites: CompanyLocations (``isPrimary``, ``isActive``); no custom fields.
- Asset status: only ``isActive`` → ``Active``/``Inactive``. Type is the
  ConfigurationItemTypes name; manufacturer is the CI's product's
  ``manufacturerName``; OS is ``rmmDeviceAuditOperatingSystem``.
- Asset purchase date: no field; read from the UDF named by the
  ``purchase_date_udf`` setting, else left empty.
- Contact type: none (left empty). Contact address: ``addressLine``,
  ``addressLine1``, ``city``, ``state``, ``zipCode``, country name.
- Boards are ticket queues; ticket statuses are global (no board); "closed"
  means Complete plus the labels listed in the ``closed_statuses`` setting.
- Custom fields: UDFs by name; numbers become numbers, dates ISO dates, list
  UDFs their labels (Autotask has no check-box UDF: Yes/No lists are common).
- Live tickets: Autotask cannot sort or skip, so pages run in ticket id order
  (oldest first) and page N is reached with cheap id-only queries; text search
  matches the title (contains) or the exact ticket number.
"""

from __future__ import annotations

from psad.connectors.autotask.client import zone_allowed
from psad.connectors.autotask.connector import AutotaskConnector

__all__ = ["AutotaskConnector", "zone_allowed"]
