"""Dashboard sessions: a signed cookie issued after logging in with the API token.

The cookie holds a random session id, its issue time and an HMAC of both keyed
by the API token, so changing the token logs everyone out. Logging out revokes
the id: revoked ids are kept (in memory and in the store, so a restart does
not bring them back) until the session would have expired anyway.

A cookie that is not exactly what psad issues (another shape, other
characters) is ignored like no cookie at all: it must never fail a page.

Failed sign-ins are counted per client address: after ``MAX_FAILURES`` in
``FAILURE_WINDOW`` seconds that address is refused with 429 until the oldest
failure leaves the window, and failures are logged at most once per
``LOG_INTERVAL`` per address.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

from aiohttp import web

from psad.store import utcnow
from psad.web.errors import OncePer
from psad.web.keys import RUNTIME_KEY

log = logging.getLogger("psad.web.session")

COOKIE = "psad_session"
CSRF_HEADER = "X-CSRF-Token"
"""Where scripts on psad's own pages send the session's CSRF token with an API call."""
MAX_AGE = 12 * 3600
MAX_FAILURES = 5
FAILURE_WINDOW = 300.0
LOG_INTERVAL = 60.0
MAX_TRACKED_ADDRESSES = 10_000
_COOKIE_RE = re.compile(r"([0-9a-f]{32})\.([0-9]{1,12})\.([0-9a-f]{64})")


class Sessions:
    """Revoked session ids and the failed sign-in counts of this process."""

    def __init__(self) -> None:
        self.revoked: dict[str, float] = {}
        self.failures: dict[str, deque[float]] = {}
        self._reports = OncePer(LOG_INTERVAL, max_keys=MAX_TRACKED_ADDRESSES)

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try again (0: it may now)."""
        now = time.monotonic()
        recent = self.failures.get(address)
        while recent and recent[0] <= now - FAILURE_WINDOW:
            recent.popleft()
        if not recent or len(recent) < MAX_FAILURES:
            return 0
        return max(1, int(recent[0] + FAILURE_WINDOW - now) + 1)

    def failed(self, address: str, what: str) -> None:
        now = time.monotonic()
        if len(self.failures) >= MAX_TRACKED_ADDRESSES and address not in self.failures:
            self.failures = {a: f for a, f in self.failures.items()
                             if f and f[-1] > now - FAILURE_WINDOW}
        self.failures.setdefault(address, deque(maxlen=MAX_FAILURES)).append(now)
        held = self._reports.due(address)
        if held is not None:
            log.warning("failed %s from %s%s", what, address,
                        f" ({held + 1} since the last report)" if held else "")

    def succeeded(self, address: str) -> None:
        self.failures.pop(address, None)


SESSIONS_KEY = web.AppKey("sessions", Sessions)


async def load_revoked(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context (after the store opens): revocations survive a restart."""
    revoked = await app[RUNTIME_KEY].store.revoked_sessions(utcnow())
    app[SESSIONS_KEY].revoked.update({sid: until.timestamp() for sid, until in revoked.items()})
    yield


def _sign(key: str, payload: str) -> str:
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _key(request: web.Request) -> str:
    return request.app[RUNTIME_KEY].tokens.api


def is_https(request: web.Request) -> bool:
    """Whether the browser reached psad over https (directly or through a trusted proxy)."""
    server = request.app[RUNTIME_KEY].config.server
    if request.secure or (server.public_url or "").lower().startswith("https:"):
        return True
    if request.remote not in server.trusted_proxies:
        return False
    proto = request.headers.get("X-Forwarded-Proto", "")
    return proto.split(",")[0].strip().lower() == "https"


def client_address(request: web.Request) -> str:
    """The client's address; behind a trusted proxy, the one the proxy saw."""
    remote = request.remote or "unknown"
    if remote in request.app[RUNTIME_KEY].config.server.trusted_proxies:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        if forwarded:
            return forwarded[:64]
    return remote


def issue(request: web.Request, response: web.StreamResponse) -> None:
    session_id = secrets.token_hex(16)
    issued = str(int(time.time()))
    signature = _sign(_key(request), f"session:{session_id}.{issued}")
    response.set_cookie(COOKIE, f"{session_id}.{issued}.{signature}", max_age=MAX_AGE,
                        httponly=True, samesite="Strict", secure=is_https(request), path="/")


def _session(request: web.Request) -> tuple[str, int] | None:
    """The id and issue time of a valid, unrevoked session cookie, else None."""
    match = _COOKIE_RE.fullmatch(request.cookies.get(COOKIE, ""))
    if match is None:
        return None
    session_id, issued, signature = match.groups()
    expected = _sign(_key(request), f"session:{session_id}.{issued}")
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    if time.time() - int(issued) >= MAX_AGE or session_id in request.app[SESSIONS_KEY].revoked:
        return None
    return session_id, int(issued)


def session_ok(request: web.Request) -> bool:
    return _session(request) is not None


async def revoke(request: web.Request, response: web.StreamResponse) -> None:
    """Log out: the cookie is deleted and its session id refused from now on."""
    response.del_cookie(COOKIE, path="/")
    current = _session(request)
    if current is None:
        return
    session_id, issued = current
    expires = issued + MAX_AGE
    sessions = request.app[SESSIONS_KEY]
    sessions.revoked = {s: t for s, t in sessions.revoked.items() if t > time.time()}
    sessions.revoked[session_id] = expires
    await request.app[RUNTIME_KEY].store.revoke_session(
        session_id, datetime.fromtimestamp(expires, UTC))


def same_origin(request: web.Request) -> bool:
    """False when the browser says the request came from another origin (Fetch metadata)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    allowed = {request.host.lower()}
    public_url = request.app[RUNTIME_KEY].config.server.public_url
    if public_url:
        allowed.add(urlsplit(public_url).netloc.lower())
    return origin != "null" and urlsplit(origin).netloc.lower() in allowed


def csrf_token(request: web.Request) -> str:
    """A per-session token for forms and the API; valid only with the same session."""
    current = _session(request)
    return _sign(_key(request), f"csrf:{current[0] if current else ''}")


def csrf_ok(request: web.Request, presented: str | None) -> bool:
    return (presented is not None and _session(request) is not None
            and hmac.compare_digest(presented.encode(), csrf_token(request).encode()))
