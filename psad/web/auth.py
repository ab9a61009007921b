"""Bearer-token auth for the API (and a separate optional one for /metrics)."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from psad.web.errors import ApiError, Handler
from psad.web.keys import RUNTIME_KEY

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/login", "/api/openapi.json"})
PUBLIC_PREFIXES = ("/static/",)


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    tokens = request.app[RUNTIME_KEY].tokens
    if request.path == "/metrics":
        if not tokens.metrics_ok(bearer(request)):
            raise ApiError(401, "a valid bearer token is required",
                           headers={"WWW-Authenticate": 'Bearer realm="psad"'})
        return await handler(request)
    if tokens.api_ok(bearer(request)):
        return await handler(request)
    from psad.web.session import session_ok

    if session_ok(request):
        return await handler(request)
    if request.path.startswith("/api/"):
        raise ApiError(401, "a valid bearer token is required",
                       headers={"WWW-Authenticate": 'Bearer realm="psad"'})
    raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='/')}"
                           if request.method == "GET"
                           else "/login")
