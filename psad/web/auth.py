"""Bearer-token auth for the API (and a separate optional one for /metrics)."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from psad.web.errors import ApiError, Handler
from psad.web.keys import RUNTIME_KEY
from psad.web.session import (CSRF_HEADER, SESSIONS_KEY, client_address, csrf_ok, same_origin,
                              session_ok)

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/login", "/api/openapi.json"})
PUBLIC_PREFIXES = ("/static/",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _refused(request: web.Request, presented: str | None) -> ApiError:
    """401 for a missing or wrong token; a wrong one is logged like a failed sign-in.

    It is not throttled: the token is long enough that guessing is hopeless, and
    clients holding the right one must keep working behind a shared proxy.
    """
    if presented is not None:
        request.app[SESSIONS_KEY].failed(client_address(request), "bearer token")
    return ApiError(401, "a valid bearer token is required",
                    headers={"WWW-Authenticate": 'Bearer realm="psad"'})


def _check_csrf(request: web.Request) -> None:
    """A cookie-authenticated API change must come from psad's own pages, token in hand.

    Browsers attach the session cookie to requests other sites make (a form
    post, a no-cors fetch); only psad's pages know the CSRF token to send.
    """
    if not same_origin(request):
        raise ApiError(403, "refused: this request came from another site")
    if not csrf_ok(request, request.headers.get(CSRF_HEADER)):
        raise ApiError(403, f"the session's CSRF token is missing or wrong: send it in "
                            f"{CSRF_HEADER}, or authenticate with the bearer token")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    tokens = request.app[RUNTIME_KEY].tokens
    presented = bearer(request)
    if request.path == "/metrics":
        if not tokens.metrics_ok(presented):
            raise _refused(request, presented)
        return await handler(request)
    if tokens.api_ok(presented):
        return await handler(request)
    if session_ok(request):
        if request.method not in SAFE_METHODS and request.path.startswith("/api/"):
            _check_csrf(request)
        return await handler(request)
    if request.path.startswith("/api/") or presented is not None:
        raise _refused(request, presented)
    raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='/')}"
                           if request.method == "GET"
                           else "/login")
