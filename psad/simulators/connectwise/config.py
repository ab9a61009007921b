"""The simulator's constants, its per-app settings and the compact JSON it answers with."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web


DEFAULT_CLIENT_ID: Final = "5f3c0f0e-7d1a-4c6b-9a52-2e8f4b1d9c70"
DEFAULT_PAGE_SIZE: Final = 25
MAX_PAGE_SIZE: Final = 1000
VERSION_CODE: Final = "v2025.8"
VERSION_NUMBER: Final = "v4.6.2025080"
ACTOR: Final = "psadsim"
compact_dumps: Final = functools.partial(json.dumps, separators=(",", ":"), check_circular=False)

Wire = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CwConfig:
    company_id: str
    public_key: str
    private_key: str
    client_id: str
    codebase: str

    @property
    def api_prefix(self) -> str:
        return f"/{self.codebase}apis/3.0"


CONFIG_KEY = web.AppKey("psad.simulators.connectwise.config", CwConfig)
