"""The gate before every API request: credentials, zone, the request threshold and the thread limit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from psad.simulators.autotask.api import Target, parse_target
from psad.simulators.autotask.errors import at_error
from psad.simulators.autotask.state import AtConfig, AtState


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refusal(request: web.Request, config: AtConfig, state: AtState,
             target: Target) -> web.Response | None:
    headers = request.headers
    user = headers.get("UserName", "")
    if user.casefold() != config.username.casefold():
        return at_error(500, "Unable to authenticate: the UserName does not belong to an "
                             "API user of this database.")
    if headers.get("ApiIntegrationCode", "") != config.integration_code:
        return at_error(500, "The ApiIntegrationCode is missing or is not a valid tracking "
                             "identifier.")
    if headers.get("Secret", "") != config.secret:
        return at_error(401, "Authentication failed: the UserName or Secret is not valid.")
    if target.zone != state.zone:
        return at_error(401, "The user is not authorized for this zone; look up the zone with "
                             "zoneInformation.")
    return None


def gate_middleware(config: AtConfig, state: AtState) -> Middleware:
    @web.middleware
    async def autotask_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        target = parse_target(request.path)
        if target is None or target.endpoint in ("", "zoneinformation"):
            return await handler(request)
        refusal = _refusal(request, config, state, target)
        if refusal is not None:
            return refusal
        counted = target.endpoint != "thresholdinformation"
        if counted and not state.budget.admit():
            limit = state.budget.limit
            return at_error(429, f"The request threshold of {limit} requests per "
                                 f"{max(1, round(state.budget.window / 60))} minutes has been "
                                 "exceeded for this database; requests are refused until usage "
                                 "drops.")
        code = request.headers.get("ApiIntegrationCode", "")
        if not state.threads.enter(code, target.endpoint):
            return at_error(429, f"API thread threshold of {state.threads.limit} threads has been "
                                 f"exceeded for the {target.tail[0]} endpoint.")
        try:
            if counted:
                await _usage_latency(state.budget.share(), config.usage_latency)
            return await handler(request)
        finally:
            state.threads.leave(code, target.endpoint)

    return autotask_gate


async def _usage_latency(share: float, latency: tuple[float, float]) -> None:
    delay = latency[1] if share >= 0.75 else latency[0] if share >= 0.5 else 0.0
    if delay > 0:
        await asyncio.sleep(delay)
