"""The Kaseya BMS simulator app and its routes."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from psad.simulators import add_control_routes, simulator_app
from psad.simulators.dataset import Dataset
from psad.simulators.faults import Faults
from psad.simulators.kaseya_bms.api import Api
from psad.simulators.kaseya_bms.config import (
    DEMO_PASSWORD,
    DEMO_TENANT,
    DEMO_USERNAME,
    HOURLY_LIMIT,
    RATE_WINDOW,
    TOKEN_LIFETIME,
)
from psad.simulators.kaseya_bms.errors import bms_error_body
from psad.simulators.kaseya_bms.gate import api_middleware
from psad.simulators.kaseya_bms.state import CONFIG_KEY, STATE_KEY, BmsConfig, BmsState


def create_app(
    dataset: Dataset,
    *,
    tenant: str = DEMO_TENANT,
    username: str = DEMO_USERNAME,
    password: str = DEMO_PASSWORD,
    token_lifetime: float = TOKEN_LIFETIME,
    hourly_limit: int = HOURLY_LIMIT,
    rate_window: float = RATE_WINDOW,
    clock: Callable[[], float] = time.time,
    faults: Faults | None = None,
) -> web.Application:
    config = BmsConfig(tenant, username, password, token_lifetime=token_lifetime,
                       hourly_limit=hourly_limit, rate_window=rate_window)
    state = BmsState(config, clock)
    app = simulator_app(dataset, faults, bms_error_body, api_middleware(state))
    app[CONFIG_KEY] = config
    app[STATE_KEY] = state

    api = Api(dataset, state)
    r = app.router
    r.add_post("/v2/security/authenticate", api.authenticate)
    r.add_post("/v2/security/refreshtoken", api.refresh_token)
    r.add_get("/v2/crm/accounts/summary", api.accounts_summary)
    r.add_get("/v2/crm/accounts/lookup", api.accounts_lookup)
    r.add_get(r"/v2/crm/accounts/{accountId:\d+}/locations/lookup", api.account_locations)
    r.add_get(r"/v2/crm/accounts/{accountId:\d+}/locations/{locationId:\d+}", api.account_location)
    r.add_get("/v2/system/accounttypes/lookup", api.account_types)
    r.add_get("/v2/crm/contacts/summary", api.contacts_summary)
    r.add_get("/v2/crm/contacts/search", api.contacts_search)
    r.add_get(r"/v2/system/customFields/{moduleId:\d+}/{objectId:\d+}", api.custom_fields)
    r.add_get("/v2/servicedesk/hardwareasset/searchselect", api.assets_searchselect)
    r.add_get(r"/v2/servicedesk/hardwareasset/{assetId:\d+}", api.asset)
    r.add_get("/v2/system/queues/lookup", api.queues)
    r.add_get("/v2/system/priorities/lookup", api.priorities)
    r.add_get("/v2/system/statuses/lookup", api.statuses)
    r.add_post("/v2/servicedesk/tickets/search", api.tickets_search)
    r.add_get("/v2/servicedesk/tickets", api.tickets_list)
    r.add_get(r"/v2/servicedesk/tickets/{ticketId:\d+}", api.ticket)
    add_control_routes(app)
    return app
