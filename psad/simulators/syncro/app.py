"""The Syncro simulator app and its routes."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from psad.simulators import add_control_routes, simulator_app
from psad.simulators.dataset import Dataset
from psad.simulators.faults import Faults
from psad.simulators.syncro.api import Api
from psad.simulators.syncro.config import (
    API_PREFIX,
    DEFAULT_API_KEY,
    PAGE_SIZES,
    RATE_LIMIT,
    RATE_WINDOW,
)
from psad.simulators.syncro.errors import syncro_error_body
from psad.simulators.syncro.gate import CONFIG_KEY, RATE_LIMIT_KEY, SyncroConfig, api_middleware
from psad.simulators.syncro.limits import RateLimit


def create_app(
    dataset: Dataset,
    *,
    api_key: str = DEFAULT_API_KEY,
    faults: Faults | None = None,
    rate_limit: int = RATE_LIMIT,
    rate_window: float = RATE_WINDOW,
    page_sizes: Mapping[str, int] | None = None,
) -> web.Application:
    """A Syncro API v1 over ``dataset``; ``page_sizes`` overrides per-list page sizes."""
    config = SyncroConfig(api_key, {**PAGE_SIZES, **(page_sizes or {})})
    limit = RateLimit(rate_limit, rate_window)
    app = simulator_app(dataset, faults, syncro_error_body, api_middleware(config, limit))
    app[CONFIG_KEY] = config
    app[RATE_LIMIT_KEY] = limit

    api = Api(dataset, config)
    p = API_PREFIX
    app.router.add_get(p + "/customers", api.customers)
    app.router.add_get(p + r"/customers/{id:\d+}", api.customer)
    app.router.add_get(p + "/contacts", api.contacts)
    app.router.add_get(p + r"/contacts/{id:\d+}", api.contact)
    app.router.add_get(p + "/customer_assets", api.assets)
    app.router.add_get(p + r"/customer_assets/{id:\d+}", api.asset)
    app.router.add_get(p + "/tickets", api.tickets)
    app.router.add_get(p + "/tickets/settings", api.ticket_settings)
    app.router.add_get(p + r"/tickets/{id:\d+}", api.ticket)
    app.router.add_get(p + "/settings", api.settings)
    app.router.add_get(p + "/me", api.me)
    add_control_routes(app)
    return app
