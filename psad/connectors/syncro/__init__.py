"""Syncro (SyncroMSP) REST API v1.

Wire facts this module relies on, confirmed in public sources (the vendor
spec in advenimus/syncromsp-mcp ``docs/swagger.json`` unless noted; see
``shared/psa-apis.md`` §3):

- Base ``https://{subdomain}.syncromsp.com/api/v1/``; the API token goes in
  ``Authorization: Bearer <token>`` (advenimus api-client and other clients;
  ``?api_key=`` also works — n8n, msp4msps/SyncroAPI — but would put the
  secret in URLs and logs). Tokens do not expire, so a 401 is final.
- "a rate limit of 180 requests per minute per IP address" (spec intro).
- Lists page with ``page`` (1-based) and say where they end in
  ``meta.total_pages``; the page size is the server's (25, 50 or 100 by
  endpoint; there is no ``per_page``), so psad never assumes one. Once
  page 1 has told ``total_pages``, the rest are read several at a time
  (:mod:`psad.connectors.paging`).
- Envelopes: ``{"customers": […], "meta"}``, ``{"contacts": […]}``,
  ``/customer_assets`` → ``{"assets": […]}``, ``{"tickets": […]}``;
  ``GET /tickets/{id}`` → ``{"ticket": {…}}`` (also seen in a third-party
  client's live-use notes). 404 answers ``{"message": "Not found"}``.
- Disabled customers are left out unless ``include_disabled=true``.
- Only tickets (and invoices) take a changed-since filter,
  ``since_updated_at``; customers, contacts and assets have none and no
  id-only field selection.
- Ticket list filters: ``customer_id``, ``status`` (a name), ``query``
  (search); there is no problem-type or priority filter.
- Set-up data has no ids: ``GET /settings`` → ``ticket.problem_types`` and
  ``ticket.priorities`` (``""`` first), ``GET /tickets/settings`` →
  ``ticket_status_list``.
- Customer: ``business_name`` (null for individuals; ``business_then_name``
  falls back to the person), ``address``/``address_2``/``city``/``state``/
  ``zip``, ``disabled``, ``properties`` (custom fields by name).
  Contact: one ``name``, ``email``, ``phone``/``mobile``, ``address1``/
  ``address2``/``city``/``state``/``zip``, ``properties``; a title written
  through the API is stored as ``properties.title`` (live CRUD test in
  advenimus ``docs/api-testing-results.md``). Asset: ``name``,
  ``customer_id``, ``asset_type`` (a name), ``asset_serial``,
  ``properties``; agent-managed assets carry the OS in
  ``properties.kabuto_information.os.name`` (several independent scripts).

How Syncro's gaps are mapped (one line each, for the README):

- Company status: Syncro has only ``disabled``; two synthetic statuses,
  ``Active`` (the default) and ``Disabled``.
- Company website: no such field; read from the customer custom field named
  by the ``website_field`` setting, else empty. Company types: none.
- Sites: none; one synthesized primary site per customer (id = customer id,
  name ``Main``, the customer's address, active unless the customer is
  disabled). Syncro has no country on addresses.
- Asset status and notes: none (empty). Purchase date, warranty expiry and
  manufacturer: asset-type custom fields found by common names (below); the
  OS from the agent's report, else such a custom field.
- Contact: the name is split at its first space into first and last name;
  no contact type or active flag (every contact is active).
- Boards are the ticket problem types (always active); ticket statuses are
  one global list (no board), closed = ``Resolved`` or ``Invoiced``.
  Boards, priorities and statuses have no ids: their psa id is the name,
  reversibly encoded to letters, digits, ``_`` and ``-XX`` (see
  :func:`name_id`).
- Incremental: none for synced entities, so every entity is fetched in full
  each run; a full fetch doubles as the deletion sweep, which is cheaper than
  a changed-since pass plus a full id listing (Syncro cannot list ids alone).

Inferred (unconfirmed), with the tolerance built in:

- The 429's ``Retry-After`` header: honoured by :class:`psad.http.PsaClient`
  when present. Because a missing header would leave only short back-offs,
  the connector also paces itself to the published limit (a sliding window
  per Syncro host, shared by every Syncro integration of the process;
  ``requests_per_minute`` lowers it when other tools share the IP).
- Custom field values come as text (checkboxes ``"1"``/``"0"``); psad stores
  them as sent, with ``""`` as empty. Dates in custom fields are read as
  ISO ``YYYY-MM-DD`` or US ``MM/DD/YYYY``; anything else is left empty.
- Page order may shift while records change mid-run; ids seen twice in one
  pass are skipped, and the engine's delete-share guard covers a skipped one.
- The ticket UI link is ``https://{subdomain}.syncromsp.com/tickets/{id}``.
"""

from __future__ import annotations

from psad.connectors.syncro.client import REQUESTS_PER_MINUTE, RequestBudget
from psad.connectors.syncro.connector import SyncroConnector
from psad.connectors.syncro.wire import id_name, name_id

__all__ = ["REQUESTS_PER_MINUTE", "RequestBudget", "SyncroConnector", "id_name", "name_id"]
