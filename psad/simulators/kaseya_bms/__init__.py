"""Kaseya BMS REST API v2 simulator over the shared :class:`Dataset`.

``create_app(dataset)`` serves the ``/v2/…`` endpoints psad reads (accounts
with embedded locations, account types, contacts and their custom fields,
hardware assets, queues, priorities, statuses, tickets), the token endpoints
and the shared ``/_sim/`` control plane.

Confirmed in the BMS API 2.0 OpenAPI document harvested from
``api.bms.kaseya.com/swagger/v2/swagger.json`` (api-evangelist/kaseya
``openapi/kaseya-bms-openapi-original.json``) unless marked otherwise:

- ``POST /v2/security/authenticate`` takes a form with ``GrantType`` (the only
  required field), ``UserName``, ``Password``, ``Tenant``; ``POST
  /v2/security/refreshtoken`` takes ``AccessToken`` (required) and
  ``RefreshToken``. Both answer ``TokenOutputDto`` = ``accessToken``,
  ``refreshToken``, ``accessTokenExpireOn``, ``refreshTokenExpireOn``.
  The spec says multipart; a client that runs against the real API
  (jc3k/M-Code-PowerQuery-for-Kaseya-BMS-API ``Auth_Query.m``) posts
  ``application/x-www-form-urlencoded`` with camelCase keys, so both
  encodings and any key case are accepted here.
- Every answer is ``{success, error: {code, message, details, stackStrace,
  subErrors}, result}``; paged lists add ``totalRecords`` (accounts and
  contacts summary, ticket search), lookups and ``searchselect`` lists do not.
  Keys are camelCase on the wire (jc3k reads ``result``, ``accessToken``,
  ``totalRecords``), the spec writes them PascalCase.
- Lists take ``PageSize``/``PageNumber`` and ``Filter.<Name>``;
  ``/crm/accounts/summary`` and ``/crm/contacts/summary`` take
  ``Filter.ModifiedOnFrom``/``To``; hardware assets have no changed-since
  filter and their ``searchselect`` rows are thin (detail per asset).
- ``GET /v2/servicedesk/tickets`` is deprecated in favour of ``POST
  /v2/servicedesk/tickets/search`` with ``{PageSize, PageNumber, Filter}``;
  ticket filters take names (``StatusNames``, ``QueueNames``,
  ``PriorityNames``) and ``AccountIds`` as a string.
- "The V2 API call limit is 1500 per hour per endpoint" (help.bms.kaseya.com,
  "V2 BMS Rest APIs").

Inferred: HTTP statuses follow ``error.code`` (404 for a missing record, 400
for a bad filter, 401 for bad credentials); an expired or unknown bearer
token gets ASP.NET Core's JwtBearer answer (401, empty body,
``WWW-Authenticate: Bearer error="invalid_token"``); throttling is
AspNetCoreRateLimit's default (429, ``Retry-After`` in seconds, a text/plain
"API calls quota exceeded!" body), counted per method and route; pages are
1-based and a ``PageNumber`` below 1 means the first page (jc3k also sends
0); the default page size is 50 and there is no maximum; lists are in id
order (tickets newest first); ``Filter.IsActive`` absent means all records,
while ``/crm/accounts/lookup`` hides inactive accounts unless
``Filter.WithInactiveAccounts=true``; date-times are UTC without a zone
suffix; token lifetimes; the custom-field module id of contacts (2); status
``typeId`` 3 marks a closed status; custom-field ``data`` is a string.

How the vendor-neutral dataset is rendered where BMS differs: an account has
one type (the company's first) and only ``isActive`` (its status is not an
inactive one); a contact has no address of its own and sits at its company's
main location; ``isPoc`` stands for the "Decision Maker" contact type; hardware
assets have no custom fields; statuses are global, one per distinct name (the
first of the per-board statuses), and tickets point at that one.
"""

from __future__ import annotations

from psad.simulators.kaseya_bms.app import create_app
from psad.simulators.kaseya_bms.config import (
    API_PATH,
    DEMO_PASSWORD,
    DEMO_TENANT,
    DEMO_USERNAME,
    SIMULATOR_SECRETS,
    SIMULATOR_SETTINGS,
)
from psad.simulators.kaseya_bms.state import STATE_KEY, BmsState
from psad.simulators.kaseya_bms.wire import (
    global_statuses,
    render_account,
    render_asset,
    render_contact,
    render_custom_fields,
    render_location,
    render_priority,
    render_queue,
    render_status,
)
from psad.simulators.kind import SimulatorKind

SIMULATOR = SimulatorKind("kaseya_bms", create_app, API_PATH, SIMULATOR_SETTINGS, SIMULATOR_SECRETS,
                          unlimited={"hourly_limit": 10**9})
"""This simulator as :mod:`psad.simulators.serve` finds it through the PSA registry."""

__all__ = [
    "SIMULATOR",
    "API_PATH",
    "BmsState",
    "DEMO_PASSWORD",
    "DEMO_TENANT",
    "DEMO_USERNAME",
    "SIMULATOR_SECRETS",
    "SIMULATOR_SETTINGS",
    "STATE_KEY",
    "create_app",
    "global_statuses",
    "render_account",
    "render_asset",
    "render_contact",
    "render_custom_fields",
    "render_location",
    "render_priority",
    "render_queue",
    "render_status",
]
