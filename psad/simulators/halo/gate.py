"""The gate before every API request: the hosted rate limit and the bearer token."""

from __future__ import annotations

import math

from aiohttp import web
from aiohttp.typedefs import Middleware

from psad.simulators.halo.config import Handler
from psad.simulators.halo.errors import BadParam, halo_error, rate_limit_message
from psad.simulators.halo.state import HaloState


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def halo_middleware(state: HaloState) -> Middleware:
    @web.middleware
    async def halo(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path.casefold()
        if not (path.startswith("/api/") or path.startswith("/auth/")):
            return await handler(request)
        wait = state.throttle()
        if wait is not None and state.rate_limit is not None:
            return halo_error(429, rate_limit_message(state.rate_limit),
                              {"Retry-After": str(max(1, math.ceil(wait)))})
        if path.startswith("/api/") and path != "/api/authinfo":
            token = _bearer(request)
            if token is None or not state.valid(token):
                return web.Response(status=401, headers={
                    "WWW-Authenticate": 'Bearer error="invalid_token"'})
        try:
            return await handler(request)
        except BadParam as err:
            return halo_error(400, str(err))
        except web.HTTPNotFound:
            return halo_error(404, "No HTTP resource was found that matches the request URI")
        except web.HTTPMethodNotAllowed:
            return halo_error(405, f"The requested resource does not support {request.method}")

    return halo
