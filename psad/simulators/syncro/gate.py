"""The gate before every API request: the per-IP throttle, the API token, and the
statuses Syncro answers a bad parameter or an unknown path with."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

from psad.simulators.syncro.config import API_PREFIX, Handler
from psad.simulators.syncro.errors import syncro_error
from psad.simulators.syncro.limits import RateLimit
from psad.simulators.syncro.query import InvalidParam


@dataclass(frozen=True, slots=True)
class SyncroConfig:
    api_key: str
    page_sizes: Mapping[str, int]


CONFIG_KEY = web.AppKey("psad.simulators.syncro.config", SyncroConfig)
RATE_LIMIT_KEY = web.AppKey("psad.simulators.syncro.rate_limit", RateLimit)


def presented_token(request: web.Request) -> str:
    """The API token a request carries: ``?api_key=`` first, then ``Authorization``."""
    token = request.query.get("api_key")
    if token is not None:
        return token.strip()
    header = request.headers.get("Authorization", "").strip()
    scheme, _, rest = header.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else header


def api_middleware(config: SyncroConfig, limit: RateLimit) -> Middleware:
    @web.middleware
    async def syncro(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        wait = limit.check(request.remote or "unknown", request.path_qs)
        if wait is not None:
            return web.Response(status=429, text="Retry later\n",
                                headers={"Retry-After": str(wait)})
        if not hmac.compare_digest(presented_token(request).encode(), config.api_key.encode()):
            return syncro_error(401)
        try:
            return await handler(request)
        except InvalidParam as err:
            return syncro_error(422, str(err))
        except web.HTTPNotFound:
            return syncro_error(404)
        except web.HTTPMethodNotAllowed:
            return syncro_error(404)

    return syncro
