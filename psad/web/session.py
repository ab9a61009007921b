"""Dashboard sessions: a signed cookie issued after logging in with the API token.

The cookie holds an issue time and an HMAC of it keyed by the API token, so
changing the token logs everyone out and nothing is kept server-side.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from aiohttp import web

from psad.web.keys import RUNTIME_KEY

COOKIE = "psad_session"
MAX_AGE = 12 * 3600


def _sign(key: str, payload: str) -> str:
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()


def issue(request: web.Request, response: web.StreamResponse) -> None:
    issued = str(int(time.time()))
    value = f"{issued}.{_sign(request.app[RUNTIME_KEY].tokens.api, 'session:' + issued)}"
    response.set_cookie(COOKIE, value, max_age=MAX_AGE, httponly=True, samesite="Strict",
                        secure=request.secure, path="/")


def session_ok(request: web.Request) -> bool:
    value = request.cookies.get(COOKIE, "")
    issued, _, signature = value.partition(".")
    if not issued.isdigit() or not signature:
        return False
    expected = _sign(request.app[RUNTIME_KEY].tokens.api, "session:" + issued)
    return hmac.compare_digest(signature, expected) and time.time() - int(issued) < MAX_AGE


def csrf_token(request: web.Request) -> str:
    """A per-session token for forms; valid only with the same session cookie."""
    return _sign(request.app[RUNTIME_KEY].tokens.api, "csrf:" + request.cookies.get(COOKIE, ""))


def csrf_ok(request: web.Request, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(presented, csrf_token(request))
