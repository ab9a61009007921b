"""The simulator's demo tenant and credentials, its limits and lifetimes, and the compact
JSON it answers with."""

from __future__ import annotations

import functools
import json
from typing import Any, Final


API_PATH: Final = "/v2/"
DEMO_TENANT: Final = "psad-demo"
DEMO_USERNAME: Final = "api@psad-demo.example"
DEMO_PASSWORD: Final = "demo-bms-password"
SIMULATOR_SETTINGS: Final[dict[str, str]] = {"tenant": DEMO_TENANT, "username": DEMO_USERNAME}
SIMULATOR_SECRETS: Final[dict[str, str]] = {"password": DEMO_PASSWORD}

HOURLY_LIMIT: Final = 1500
RATE_WINDOW: Final = 3600.0
TOKEN_LIFETIME: Final = 3600.0
REFRESH_LIFETIME: Final = 7 * 24 * 3600.0
DEFAULT_PAGE_SIZE: Final = 50
CONTACT_MODULE_ID: Final = 2
CLOSED_STATUS_TYPE: Final = 3
DECISION_MAKER: Final = "Decision Maker"
OPEN_PATHS: Final = frozenset({"/v2/security/authenticate", "/v2/security/refreshtoken"})
compact_dumps: Final = functools.partial(json.dumps, separators=(",", ":"), check_circular=False)

Wire = dict[str, Any]
