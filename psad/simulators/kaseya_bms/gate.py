"""The gate before every API request: the hourly per-endpoint limit and the bearer token."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.typedefs import Middleware

from psad.simulators.kaseya_bms.config import API_PATH, OPEN_PATHS
from psad.simulators.kaseya_bms.errors import BadRequest, failure, unauthorized
from psad.simulators.kaseya_bms.state import BmsState


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _endpoint(request: web.Request) -> str:
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    return f"{request.method} {template.lower()}"


def _window_label(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def check_bearer(request: web.Request, state: BmsState) -> web.Response | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return unauthorized()
    session = state.sessions.get(token.strip())
    if session is None:
        return unauthorized('Bearer error="invalid_token"')
    if session.access_expires <= state.clock():
        expired = datetime.fromtimestamp(session.access_expires, UTC)
        return unauthorized('Bearer error="invalid_token", error_description='
                             f'"The token expired at \'{expired:%m/%d/%Y %H:%M:%S}\'"')
    return None


def api_middleware(state: BmsState) -> Middleware:
    @web.middleware
    async def bms(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PATH):
            return await handler(request)
        wait = state.over_limit(_endpoint(request))
        if wait is not None:
            config = state.config
            return web.Response(
                status=429, headers={"Retry-After": str(max(math.ceil(wait), 1))},
                text=f"API calls quota exceeded! maximum admitted {config.hourly_limit} "
                     f"per {_window_label(config.rate_window)}.")
        if request.path.rstrip("/").lower() not in OPEN_PATHS:
            refusal = check_bearer(request, state)
            if refusal is not None:
                state.refused += 1
                return refusal
        try:
            return await handler(request)
        except BadRequest as err:
            return failure(400, str(err))
        except web.HTTPNotFound:
            return web.Response(status=404)
        except web.HTTPMethodNotAllowed:
            return web.Response(status=405)

    return bms
