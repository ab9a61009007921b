"""The simulator's demo client and tenant, its limits and field vocabularies, and the
compact JSON it answers with."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web


API_PATH: Final = "/api/"
DEMO_CLIENT_ID: Final = "7c1f3a52-9d4e-4b8a-a6f0-5e2d8c9b1a47"
DEMO_CLIENT_SECRET: Final = "b4e9c2d7-1f6a-4c3e-8b5d-0a9f7e6c2d18-3e7a9c1b-5d2f-4a8e-9c6b"
DEMO_TENANT: Final = "psaddemo"
SIMULATOR_SETTINGS: Final[dict[str, str]] = {"client_id": DEMO_CLIENT_ID, "tenant": DEMO_TENANT}
SIMULATOR_SECRETS: Final[dict[str, str]] = {"client_secret": DEMO_CLIENT_SECRET}

TOKEN_LIFETIME: Final = 3600
HOSTED_RATE_LIMIT: Final = (300, 300.0)
DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1000
MAX_TICKET_PAGE_SIZE: Final = 100
EMPTY_DATE: Final = "1900-01-01T00:00:00"
SCOPES: Final = frozenset({"all", "read:customers", "read:assets", "read:tickets",
                           "read:crm", "read:lookups", "read:users"})
SLAS: Final = (1, 2)
"""The SLA ids each priority is repeated for (Halo's Policy rows carry ``slaid`` only)."""
IMPORTANT_TYPE: Final = "Decision Maker"
HALO_FIELD_TYPES: Final = {"Text": 0, "Number": 0, "Date": 4, "Checkbox": 6}
TYPE_FIELDS: Final = ((101, "Serial Number"), (102, "Manufacturer"), (103, "Operating System"),
                      (104, "Purchase Date"))
compact_dumps: Final = functools.partial(json.dumps, separators=(",", ":"), check_circular=False)

Wire = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
