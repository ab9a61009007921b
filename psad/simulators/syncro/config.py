"""The simulator's demo credentials, page sizes and custom field names, and the compact
JSON it answers with."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from aiohttp import web


API_PATH: Final = "/api/v1/"
API_PREFIX: Final = "/api/v1"
DEFAULT_API_KEY: Final = "T1d2e3m4o-psad-syncro-0123456789abcdef"
WEBSITE_FIELD: Final = "Website"
SIMULATOR_SETTINGS: Final[dict[str, str]] = {"website_field": WEBSITE_FIELD}
SIMULATOR_SECRETS: Final[dict[str, str]] = {"api_key": DEFAULT_API_KEY}

RATE_LIMIT: Final = 180
RATE_WINDOW: Final = 60.0
PAGE_SIZES: Final[Mapping[str, int]] = {
    "customers": 100, "contacts": 50, "customer_assets": 50, "tickets": 50}
CLOSED_STATUSES: Final = frozenset({"Resolved", "Invoiced"})
NOT_AUTHORIZED: Final = ("Not authorized. Please ask account admin to update your group "
                         "permissions.")
MANUFACTURER_FIELD: Final = "Manufacturer"
PURCHASE_FIELD: Final = "Purchase Date"
WARRANTY_FIELD: Final = "Warranty Expiration"
ACCOUNT_ID: Final = 1


compact_dumps: Final = functools.partial(json.dumps, separators=(",", ":"), check_circular=False)

Wire = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
