"""Per-app state: the client credentials, issued tokens and the hosted rate limit."""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from psad.simulators.halo.config import TOKEN_LIFETIME


@dataclass(slots=True)
class HaloState:
    """Credentials, issued tokens, the rolling rate window and the token requests seen."""

    client_id: str
    client_secret: str
    tenant: str | None
    token_lifetime: int = TOKEN_LIFETIME
    rate_limit: tuple[int, float] | None = None
    clock: Callable[[], float] = time.monotonic
    tokens: dict[str, float] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    hits: deque[float] = field(default_factory=deque)

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens[token] = self.clock() + self.token_lifetime
        return token

    def valid(self, token: str) -> bool:
        expires = self.tokens.get(token)
        return expires is not None and self.clock() < expires

    def knows_tenant(self, request: web.Request) -> bool:
        """Whether the token request names this instance's tenant: by ``?tenant=``, or, without
        it, by the hostname a hosted tenant is reached at (``{tenant}.halopsa.com``, where the
        parameter is optional). An on-premise instance (no tenant) takes any request."""
        if self.tenant is None:
            return True
        named = request.query.get("tenant")
        if named is None:
            named = request.host.partition(".")[0] if "." in request.host else ""
        return named.casefold() == self.tenant.casefold()

    def revoke_all(self) -> None:
        """Forget every issued token, as a Halo restart or secret rotation would."""
        self.tokens.clear()

    def throttle(self) -> float | None:
        """Seconds until the rolling window has room, when this request is over the limit."""
        if self.rate_limit is None:
            return None
        limit, window = self.rate_limit
        now = self.clock()
        while self.hits and self.hits[0] <= now - window:
            self.hits.popleft()
        if len(self.hits) >= limit:
            return self.hits[0] + window - now
        self.hits.append(now)
        return None


STATE_KEY = web.AppKey("psad.simulators.halo.state", HaloState)
