"""The Autotask simulator app and its own control routes (zone moves, outside usage)."""

from __future__ import annotations

import time

from aiohttp import web

from psad.simulators import add_control_routes, simulator_app
from psad.simulators.autotask.api import Api
from psad.simulators.autotask.config import (
    DEFAULT_ZONE,
    DEMO_INTEGRATION_CODE,
    DEMO_SECRET,
    DEMO_USERNAME,
    REQUEST_THRESHOLD,
    THREAD_LIMIT,
    THRESHOLD_WINDOW,
    USAGE_LATENCY,
)
from psad.simulators.autotask.errors import at_error_body, at_json
from psad.simulators.autotask.gate import gate_middleware
from psad.simulators.autotask.limits import Clock, RequestBudget, ThreadGate
from psad.simulators.autotask.state import CONFIG_KEY, STATE_KEY, AtConfig, AtState
from psad.simulators.dataset import Dataset
from psad.simulators.faults import Faults


async def _move_zone(request: web.Request) -> web.Response:
    body = await request.json()
    zone = str(body.get("zone", "")).strip("/")
    if not zone or "/" in zone:
        return at_json({"error": "zone must be a single path segment"}, status=400)
    request.app[STATE_KEY].zone = zone
    return web.Response(status=204)


async def _add_usage(request: web.Request) -> web.Response:
    body = await request.json()
    try:
        request.app[STATE_KEY].budget.add_external(int(body["requests"]))
    except (KeyError, TypeError, ValueError) as err:
        return at_json({"error": f"bad usage: {err}"}, status=400)
    return at_json(request.app[STATE_KEY].budget.info())


# --- app factory --------------------------------------------------------------------------------


def create_app(
    dataset: Dataset,
    *,
    username: str = DEMO_USERNAME,
    secret: str = DEMO_SECRET,
    integration_code: str = DEMO_INTEGRATION_CODE,
    zone: str = DEFAULT_ZONE,
    request_threshold: int = REQUEST_THRESHOLD,
    threshold_window: float = THRESHOLD_WINDOW,
    thread_limit: int = THREAD_LIMIT,
    usage_latency: tuple[float, float] = USAGE_LATENCY,
    clock: Clock | None = None,
    faults: Faults | None = None,
) -> web.Application:
    """The Autotask REST API over ``dataset``; ``clock`` drives the request threshold window."""
    config = AtConfig(username, secret, integration_code, usage_latency)
    state = AtState(zone=zone.strip("/"),
                    budget=RequestBudget(request_threshold, threshold_window,
                                         clock or time.monotonic),
                    threads=ThreadGate(thread_limit))
    app = simulator_app(dataset, faults, at_error_body, gate_middleware(config, state),
                        vendor_before_faults=True)
    app[CONFIG_KEY] = config
    app[STATE_KEY] = state
    api = Api(dataset, config, state)
    app.router.add_post("/_sim/autotask/zone", _move_zone)
    app.router.add_post("/_sim/autotask/usage", _add_usage)
    add_control_routes(app)
    app.router.add_route("*", "/{path:.*}", api.handle)
    return app
