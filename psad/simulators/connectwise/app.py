"""The ConnectWise simulator app: routes for every resource, bundles and the control plane."""

from __future__ import annotations

from aiohttp import web

from psad.simulators import FAULTS_KEY, add_control_routes, simulator_app
from psad.simulators.connectwise.api import Api
from psad.simulators.connectwise.auth import api_middleware
from psad.simulators.connectwise.bundles import BUNDLE_LIMIT, add_bundle_routes
from psad.simulators.connectwise.config import CONFIG_KEY, DEFAULT_CLIENT_ID, CwConfig
from psad.simulators.connectwise.errors import cw_error_body
from psad.simulators.connectwise.resources import resources
from psad.simulators.dataset import Dataset
from psad.simulators.faults import Faults


def create_app(
    dataset: Dataset,
    *,
    company_id: str = "psad-demo",
    public_key: str = "pub",
    private_key: str = "priv",
    client_id: str = DEFAULT_CLIENT_ID,
    codebase: str = "v4_6_release/",
    faults: Faults | None = None,
    bundle_limit: int = BUNDLE_LIMIT,
) -> web.Application:
    config = CwConfig(company_id, public_key, private_key, client_id, codebase.strip("/") + "/")
    app = simulator_app(dataset, faults, cw_error_body, api_middleware(config))
    app[CONFIG_KEY] = config

    api = Api(dataset, config)
    prefix = config.api_prefix
    for resource in resources(dataset):
        path = prefix + resource.path.replace("{parent}", r"{parent:\d+}")
        app.router.add_get(path, api.list_handler(resource))
        app.router.add_get(path + "/", api.list_handler(resource))
        app.router.add_get(path + "/count", api.count_handler(resource))
        app.router.add_get(path + r"/{id:\d+}", api.get_handler(resource))
    app.router.add_get(prefix + "/system/info", api.system_info)
    app.router.add_get("/login/companyinfo/{companyId}", api.company_info)
    add_bundle_routes(app, api, faults=app[FAULTS_KEY], limit=bundle_limit)
    add_control_routes(app)
    return app
