"""HaloPSA simulator over the shared :class:`Dataset`.

``create_app(dataset)`` serves the Halo resource server under ``/api/`` (``Client``,
``Site``, ``Users``, ``Asset``, ``Tickets`` and their ``/{id}``, the bare-array lookups
``Team``, ``Status``, ``Priority``, and the unauthenticated ``authinfo``), the
authorisation server's ``POST /auth/token``, and the shared ``/_sim/`` control plane.
The wire facts it follows, and which of them are confirmed, are listed in
:mod:`psad.connectors.halo`; what the simulator adds on its own is marked there as
inferred:

- Paths and query names match case-insensitively (ASP.NET routing and model binding).
- Lists leave inactive rows out unless ``includeinactive=true``; ``idonly=true`` ignores
  paging and answers every id; ``page_no`` past the end answers an empty page (SQL
  ``OFFSET … FETCH`` paging; clients that page until an empty page stop); without
  ``pageinate`` the whole list comes back (``count`` caps it). Default page size 50,
  at most 1000 (``/Tickets``: 100); larger sizes are clamped.
- ``lastupdatefromdate`` keeps rows changed at or after the timestamp (``true``/``false``,
  the spec's bool reading, is ignored).
- Unset text comes as ``""``, unset dates as ``1900-01-01T00:00:00``; timestamps are UTC
  without a zone.
- A hosted tenant's token request names the tenant by ``?tenant=`` or, without it, by
  the hostname it is sent to (``{tenant}.halopsa.com``); a bare address without the
  parameter is refused.
- ``/Status`` rows carry no closed flag (TStatus in the spec has none, nor Policy an SLA
  name); ``excludeclosed=true`` (a spec parameter) leaves the closed ones out.
- Tokens are opaque; a missing, unknown or expired bearer token gets 401 with an empty
  body and ``WWW-Authenticate: Bearer error="invalid_token"``. Token errors use RFC 6749
  bodies (``{"error": "invalid_client"}``) with status 400.
- Other errors are .NET exception bodies ``{"ClassName", "Message"}``; 429 bodies carry
  ``{"error": "Rate Limit Reached - N Requests per rolling M minute window"}`` and a
  ``Retry-After`` header. The hosted limit (300 per rolling 5 minutes) is off by default
  and switched on with ``rate_limit=HOSTED_RATE_LIMIT``.

Vendor-neutral data is rendered in Halo's vocabulary: company status becomes
``client.inactive`` (the status's inactive flag), the first company type the client's top
level, the lowest-id primary site ``client.main_site_id``; "Decision Maker" contacts are
Halo's important contacts; ticket statuses, per board in the dataset, are rendered once per
name (the lowest id stands for all, as Halo statuses are global); priorities come once per
SLA. Site and contact countries have no Halo field and are not rendered.
"""

from __future__ import annotations

from psad.simulators.halo.app import create_app
from psad.simulators.halo.config import (
    API_PATH,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_TENANT,
    SIMULATOR_SECRETS,
    SIMULATOR_SETTINGS,
)
from psad.simulators.halo.query import Query
from psad.simulators.halo.state import STATE_KEY, HaloState
from psad.simulators.halo.wire import Renderer
from psad.simulators.kind import SimulatorKind

SIMULATOR = SimulatorKind("halo", create_app, API_PATH, SIMULATOR_SETTINGS, SIMULATOR_SECRETS,
                          unlimited={"rate_limit": None})
"""This simulator as :mod:`psad.simulators.serve` finds it through the PSA registry."""

__all__ = [
    "SIMULATOR",
    "API_PATH",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_TENANT",
    "HaloState",
    "Query",
    "Renderer",
    "SIMULATOR_SECRETS",
    "SIMULATOR_SETTINGS",
    "STATE_KEY",
    "create_app",
]
