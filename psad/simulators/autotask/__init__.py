"""Autotask PSA REST API (v1.0) simulator over the shared :class:`Dataset`.

``create_app(dataset)`` serves, for every entity psad reads, the REST surface
``/{zone}/ATServicesRest/V1.0/{Entity}/…``: ``query`` (POST body or GET
``?search=``), ``query/next`` (the ``pageDetails.nextPageUrl``), ``query/count``,
``{id}``, ``entityInformation``, ``entityInformation/fields`` and
``entityInformation/userDefinedFields``; plus ``ThresholdInformation``, the
unauthenticated ``zoneInformation?user=`` (on the global ``/ATServicesRest/``
root and on every zone), and the shared ``/_sim/`` control plane with two
Autotask extras: ``POST /_sim/autotask/zone`` (move the database to another
zone) and ``POST /_sim/autotask/usage`` (requests made by other integrations).

Confirmed with public sources:

- Auth is three headers on every call, ``ApiIntegrationCode``, ``UserName``
  and ``Secret`` (header names case-insensitive), optional
  ``ImpersonationResourceId`` (Autotask REST OpenAPI specs, api-evangelist/kaseya).
- An unknown user name or a wrong integration code answer **500**, a wrong
  secret **401**, with a body like ``{"errors": ["…"]}`` (apigrate/autotask-restapi
  issue #19). ``zoneInformation`` for an unknown user answers 500
  ``{"errors":["Zone information could not be determined"]}`` (KelvinTegelaar/
  AutotaskAPI issue #17, django-autotask ``get_zone_info``) and needs no auth.
- Zone information holds ``url`` (the zone's ``…/ATServicesRest/``) and
  ``webUrl`` (the UI root); django-autotask appends ``v1.0/`` to ``url``.
- Query bodies ``{"MaxRecords", "IncludeFields", "filter": [{op, field, value,
  udf, items}]}`` (keys case-insensitive; spec example uses ``Filter``),
  operators ``eq noteq gt gte lt lte beginsWith endsWith contains exist
  notExist in notIn`` and ``and``/``or`` groups; results ``{"items",
  "pageDetails": {"count", "requestCount", "prevPageUrl", "nextPageUrl"}}``,
  at most 500 per page, sorted by id; ``nextPageUrl`` is
  ``…/{Entity}/query/next?paging={"pageSize":500,"previousIds":[-1],"nextIds":[725]}``
  (URL-encoded, as captured from a live tenant) and must be POSTed with the same body —
  a GET answers 405 "does not support http method 'GET'" (public client notes);
  ``query/count`` answers ``{"queryCount": N}``; a GET by id answers
  ``{"item": {…}}`` or ``{"item": null}`` with 200 when absent.
- Every record carries all of its entity's fields, ``null`` when empty (the field lists
  of the REST schema, :mod:`psad.simulators.autotask.fields`); ``entityInformation``
  names the entity in the singular (``Company``).
- Field names, picklist shape (``value`` is a string), ``userDefinedFields``
  as ``[{name, value}]`` with string values, contact ``isActive`` as 0/1, no
  change-tracking field on CompanyLocations (OpenAPI specs).
- All times are UTC (Autotask REST "resources" overview).
- 10,000 requests per rolling 60 minutes per *database*, shared by every
  integration; latency of +0.5 s per call from 50 % and +1 s from 75 % of it;
  ``GET /V1.0/ThresholdInformation`` → ``{"externalRequestThreshold",
  "requestThresholdTimeframe", "currentTimeframeRequestCount"}`` (threshold
  OpenAPI spec, Autotask help, Cloud Depot KB).
- At most 3 concurrent requests per tracking identifier and object endpoint;
  the 4th answers 429 "API thread threshold of 3 threads has been exceeded";
  ``zoneInformation`` is exempt, ``ThresholdInformation`` is not (Autotask
  "API thread limiting" help; n8n-nodes-autotask PR #107; client reports).

Inferred: the exact wording of error messages other than the two above; a
call to a zone that is not the user's answers 401; past the hourly threshold
a call answers 429 ``{"errors": [...]}`` without ``Retry-After``; refused
calls do not count against the threshold and ``ThresholdInformation`` itself
is neither counted nor refused by it; a bad filter or a missing ``filter``
answers 500; ``MaxRecords`` outside 1–500 is refused; the ``paging`` token
format (opaque to clients); UDF ``type`` names ("string", "double",
"datetime"); Yes/No list UDFs stand for check boxes (Autotask has no boolean
UDF); timestamps carry milliseconds and ``Z`` (real responses also appear
without a zone suffix); string comparisons are case-insensitive (SQL Server
collation); a boolean (``true`` or ``"true"``) compared with an integer flag such as a
contact's 0/1 ``isActive`` is read as 1 or 0, as the API's value conversion does.
"""

from __future__ import annotations

from psad.simulators.autotask.app import create_app
from psad.simulators.autotask.config import (
    API_PATH,
    DEMO_INTEGRATION_CODE,
    DEMO_SECRET,
    DEMO_USERNAME,
    PURCHASE_DATE_UDF,
    SIMULATOR_SECRETS,
    SIMULATOR_SETTINGS,
)
from psad.simulators.autotask.resources import resources
from psad.simulators.autotask.state import STATE_KEY, AtState
from psad.simulators.autotask.wire import Renderer, Tables, status_ids, ticket_number
from psad.simulators.kind import SimulatorKind

SIMULATOR = SimulatorKind("autotask", create_app, API_PATH, SIMULATOR_SETTINGS, SIMULATOR_SECRETS,
                          unlimited={"request_threshold": 10**9, "thread_limit": 1000})
"""This simulator as :mod:`psad.simulators.serve` finds it through the PSA registry."""

__all__ = [
    "SIMULATOR",
    "API_PATH",
    "AtState",
    "DEMO_INTEGRATION_CODE",
    "DEMO_SECRET",
    "DEMO_USERNAME",
    "PURCHASE_DATE_UDF",
    "Renderer",
    "SIMULATOR_SECRETS",
    "SIMULATOR_SETTINGS",
    "STATE_KEY",
    "Tables",
    "create_app",
    "resources",
    "status_ids",
    "ticket_number",
]
