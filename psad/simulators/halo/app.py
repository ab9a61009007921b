"""The HaloPSA simulator app and its routes."""

from __future__ import annotations

from aiohttp import web

from psad.simulators import add_control_routes, simulator_app
from psad.simulators.dataset import Dataset
from psad.simulators.faults import Faults
from psad.simulators.halo.api import Api
from psad.simulators.halo.config import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_TENANT,
    TOKEN_LIFETIME,
)
from psad.simulators.halo.errors import halo_error_body
from psad.simulators.halo.gate import halo_middleware
from psad.simulators.halo.state import STATE_KEY, HaloState


def create_app(
    dataset: Dataset,
    *,
    client_id: str = DEMO_CLIENT_ID,
    client_secret: str = DEMO_CLIENT_SECRET,
    tenant: str | None = DEMO_TENANT,
    token_lifetime: int = TOKEN_LIFETIME,
    rate_limit: tuple[int, float] | None = None,
    faults: Faults | None = None,
) -> web.Application:
    """The Halo simulator; ``tenant=None`` behaves like an on-premise instance."""
    state = HaloState(client_id, client_secret, tenant, token_lifetime, rate_limit)
    app = simulator_app(dataset, faults, halo_error_body, halo_middleware(state))
    app[STATE_KEY] = state

    api = Api(dataset, state)
    app.router.add_post("/auth/token", api.token)
    app.router.add_route("*", "/api/{tail:.*}", api.dispatch)
    add_control_routes(app)
    return app
