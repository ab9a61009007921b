"""Syncro (SyncroMSP) REST API v1 simulator over the shared :class:`Dataset`.

``create_app(dataset)`` serves ``/api/v1/…``: ``/customers`` (+ ``/{id}``),
``/contacts`` (+ ``/{id}``), ``/customer_assets`` (+ ``/{id}``), ``/tickets``
(+ ``/{id}``), ``/tickets/settings``, ``/settings`` and ``/me``, plus the
shared ``/_sim/`` control plane.

How the vendor-neutral dataset becomes Syncro (Syncro lacks several concepts):

- companies → customers. ``disabled`` is true when the company's status is
  an inactive one; the status name itself has no place on the wire. The
  website goes into the customer custom field ``Website`` (Syncro has no
  website field; a real account only has one if the MSP created it).
- sites are not rendered: Syncro has none (psad synthesizes one per customer
  from the customer's address).
- assets → customer assets. ``asset_type`` is the type name, ``asset_serial``
  the serial; the OS sits where the Syncro agent reports it
  (``properties.kabuto_information.os.name``); manufacturer, purchase date,
  warranty expiry and the dataset's custom fields are asset-type custom fields
  in ``properties`` (values as strings: ``"1"``/``"0"`` for checkboxes, ISO
  dates). Asset status and notes have no Syncro field and are not rendered.
- contacts → contacts with a single ``name``; the title is
  ``properties.title``; contact type and the active flag do not exist.
- boards → ticket problem types, priorities → the priority strings, ticket
  statuses → the account's global status list (names only, no ids).

Confirmed with public sources (see ``shared/psa-apis.md`` §3):

- Paths, envelopes and examples from the vendor spec (advenimus/syncromsp-mcp
  ``docs/swagger.json``): list envelopes ``{"customers"|"contacts"|"assets"|
  "tickets": [...], "meta": {...}}``; customers/contacts meta carry
  ``total_pages, total_entries, per_page, page``, tickets only
  ``total_pages, page``; ``GET /customers/{id}`` → ``{"customer"}``,
  ``GET /tickets/{id}`` → ``{"ticket"}``, ``GET /contacts/{id}`` a bare object;
  ``include_disabled`` ("whether the returned list includes disabled
  customers", default false); ticket filters ``customer_id``, ``contact_id``,
  ``number``, ``status`` (incl. ``Not Closed``), ``query``, ``user_id``,
  ``created_after``, ``resolved_after``, ``since_updated_at`` — no
  problem-type or priority filter; ``/settings`` → ``ticket.problem_types``,
  ``ticket.priorities`` (``""`` first); ``/tickets/settings`` →
  ``ticket_status_list``; 401 body ``{"error": "Not authorized. Please ask
  account admin to update your group permissions."}``, 404 ``{"message":
  "Not found"}``; "a rate limit of 180 requests per minute per IP address".
- Auth: ``Authorization: Bearer <token>`` (advenimus api-client, several
  scripts) and ``?api_key=<token>`` (n8n's SyncroMSP node,
  msp4msps/SyncroAPI). The spec's scheme is an apiKey in the
  ``Authorization`` header, so a bare token there is accepted too.
- ``GET /customer_assets/{id}`` → ``{"asset": {...}}`` (a client reads
  ``.get("asset")``); a live test saw 50 tickets and 50 assets per page and
  100 customers per page in the spec example, 25 elsewhere; there is no
  ``per_page`` parameter on these lists; n8n pages until an empty page, so a
  page past the end answers an empty list.

Inferred: the 429 is a Rack::Attack-style fixed-window throttle per IP that
counts throttled requests too and answers ``Retry later`` with
``Retry-After`` (seconds to the next window); a bad or missing token gets
the same 401 body as a missing permission; lists come in id order (tickets
newest first); unparseable id filters match nothing and unparseable date
filters get a 422; timestamps are UTC with milliseconds and ``Z``; ``query``
searches the obvious text columns.
"""

from __future__ import annotations

from psad.simulators.syncro.app import create_app
from psad.simulators.syncro.config import (
    API_PATH,
    DEFAULT_API_KEY,
    NOT_AUTHORIZED,
    PURCHASE_FIELD,
    SIMULATOR_SECRETS,
    SIMULATOR_SETTINGS,
    WARRANTY_FIELD,
    WEBSITE_FIELD,
)
from psad.simulators.syncro.gate import RATE_LIMIT_KEY
from psad.simulators.syncro.limits import RateLimit
from psad.simulators.syncro.wire import Renderer, priority_names, status_names
from psad.simulators.kind import SimulatorKind

SIMULATOR = SimulatorKind("syncro", create_app, API_PATH, SIMULATOR_SETTINGS, SIMULATOR_SECRETS,
                          unlimited={"rate_limit": 10**9})
"""This simulator as :mod:`psad.simulators.serve` finds it through the PSA registry."""

__all__ = [
    "SIMULATOR",
    "API_PATH",
    "DEFAULT_API_KEY",
    "NOT_AUTHORIZED",
    "PURCHASE_FIELD",
    "RATE_LIMIT_KEY",
    "RateLimit",
    "Renderer",
    "SIMULATOR_SECRETS",
    "SIMULATOR_SETTINGS",
    "WARRANTY_FIELD",
    "WEBSITE_FIELD",
    "create_app",
    "priority_names",
    "status_names",
]
