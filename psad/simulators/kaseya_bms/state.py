"""Per-app settings and state: sign-in sessions, the per-endpoint hourly budget and the
form bodies clients posted."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import web

from psad.simulators.kaseya_bms.config import (
    CONTACT_MODULE_ID,
    HOURLY_LIMIT,
    RATE_WINDOW,
    REFRESH_LIFETIME,
    TOKEN_LIFETIME,
)


@dataclass(frozen=True, slots=True)
class BmsConfig:
    tenant: str
    username: str
    password: str
    token_lifetime: float = TOKEN_LIFETIME
    refresh_lifetime: float = REFRESH_LIFETIME
    hourly_limit: int = HOURLY_LIMIT
    rate_window: float = RATE_WINDOW
    contact_module_id: int = CONTACT_MODULE_ID


@dataclass(slots=True)
class Session:
    access: str
    refresh: str
    access_expires: float
    refresh_expires: float


class LoggedBody(NamedTuple):
    """A request body the simulator received (form fields or JSON)."""

    method: str
    path: str
    content_type: str
    body: Any


@dataclass
class BmsState:
    """Tokens, rate-limit windows and request bodies of one app."""

    config: BmsConfig
    clock: Callable[[], float] = time.time
    sessions: dict[str, Session] = field(default_factory=dict)
    windows: dict[str, tuple[float, int]] = field(default_factory=dict)
    bodies: list[LoggedBody] = field(default_factory=list)
    throttled: int = 0
    refused: int = 0
    issued: int = 0

    def issue(self) -> Session:
        now = self.clock()
        session = Session(_token("at"), _token("rt"), now + self.config.token_lifetime,
                          now + self.config.refresh_lifetime)
        self.sessions[session.access] = session
        self.issued += 1
        return session

    def by_refresh(self, access: str, refresh: str) -> Session | None:
        session = self.sessions.get(access)
        if session is None or session.refresh != refresh:
            return None
        if session.refresh_expires <= self.clock():
            return None
        return session

    def revoke(self, session: Session) -> None:
        self.sessions.pop(session.access, None)

    def revoke_all(self) -> None:
        self.sessions.clear()

    def over_limit(self, endpoint: str) -> float | None:
        """Seconds until the window reopens when this call is over the limit."""
        now = self.clock()
        started, used = self.windows.get(endpoint, (now, 0))
        if now - started >= self.config.rate_window:
            started, used = now, 0
        used += 1
        self.windows[endpoint] = (started, used)
        if used <= self.config.hourly_limit:
            return None
        self.throttled += 1
        return max(started + self.config.rate_window - now, 0.0)


def _token(prefix: str) -> str:
    return f"{prefix}.{secrets.token_urlsafe(24)}.{secrets.token_urlsafe(8)}"


CONFIG_KEY = web.AppKey("psad.simulators.kaseya_bms.config", BmsConfig)
STATE_KEY = web.AppKey("psad.simulators.kaseya_bms.state", BmsState)
