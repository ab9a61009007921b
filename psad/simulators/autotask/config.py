"""The simulator's demo credentials, settings and limits, and the compact JSON it answers with."""

from __future__ import annotations

import functools
import json
from typing import Any, Final

from psad.simulators.dataset import TICKET_STATUSES


DEMO_USERNAME: Final = "psad-api@psad-demo.example"
DEMO_SECRET: Final = "demo-Secret-7Hq2"
DEMO_INTEGRATION_CODE: Final = "PSADDEMO0INTEGRATION0CODE27"
DEFAULT_ZONE: Final = "webservices5"
API_PATH: Final = "/ATServicesRest/"
"""Appended to the simulator root: the global zone-discovery root psad starts from."""
PURCHASE_DATE_UDF: Final = "Purchase Date"
CLOSED_STATUSES: Final = ",".join(name for name, closed in TICKET_STATUSES if closed)

SIMULATOR_SETTINGS: Final[dict[str, str]] = {
    "username": DEMO_USERNAME,
    "purchase_date_udf": PURCHASE_DATE_UDF,
    "closed_statuses": CLOSED_STATUSES,
    "zone_hosts": "http://127.0.0.1",
}
SIMULATOR_SECRETS: Final[dict[str, str]] = {
    "secret": DEMO_SECRET,
    "integration_code": DEMO_INTEGRATION_CODE,
}

MAX_RECORDS: Final = 500
REQUEST_THRESHOLD: Final = 10_000
THRESHOLD_WINDOW: Final = 3600.0
THREAD_LIMIT: Final = 3
USAGE_LATENCY: Final = (0.5, 1.0)
compact_dumps: Final = functools.partial(json.dumps, separators=(",", ":"), check_circular=False)

Wire = dict[str, Any]
