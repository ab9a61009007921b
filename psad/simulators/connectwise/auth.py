"""The gate every API request passes: Basic credentials and ``clientId``, query parameter
names bound case-insensitively, and the model version the ``Accept`` header pins."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from psad.simulators.connectwise.conditions import BadQuery
from psad.simulators.connectwise.config import VERSION_CODE, CwConfig
from psad.simulators.connectwise.errors import cw_error


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def check_auth(request: web.Request, config: CwConfig) -> web.Response | None:
    """The ConnectWise refusal for this request's credentials, or None if they pass."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return cw_error(401, "Authentication is required: send Basic companyId+publicKey:privateKey")
    try:
        user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return cw_error(401, "The Authorization header is not valid Basic credentials")
    company, _, public_key = user.partition("+")
    if (company.casefold() != config.company_id.casefold() or public_key != config.public_key
            or password != config.private_key):
        return cw_error(401, "Incorrect company, public key or private key")
    client_id = request.headers.get("clientId", "")
    if not client_id:
        return cw_error(400, "The clientId header is required", errors=[{
            "code": "MissingRequiredField", "message": "clientId is required",
            "resource": "request", "field": "clientId"}])
    if client_id.casefold() != config.client_id.casefold():
        return cw_error(400, "The clientId is not registered", errors=[{
            "code": "InvalidField", "message": f"clientId {client_id} is not valid",
            "resource": "request", "field": "clientId"}])
    return None


QUERY_PARAMETERS: Final = ("conditions", "childConditions", "customFieldConditions", "orderBy",
                            "fields", "page", "pageSize", "pageId")
"""The common query parameters of every GET in the vendor's OpenAPI document."""
_CANONICAL_PARAMETERS: Final = {name.lower(): name for name in QUERY_PARAMETERS}


def canonical_query(request: web.Request) -> web.Request:
    """``request`` with the common query parameter names in the spec's case: the server binds
    them case-insensitively (ASP.NET), so ``pagesize`` is ``pageSize``."""
    pairs = [(_CANONICAL_PARAMETERS.get(k.lower(), k), v) for k, v in request.query.items()]
    if all(name == original for (name, _), original in zip(pairs, request.query.keys(), strict=True)):
        return request
    return request.clone(rel_url=request.rel_url.with_query(pairs))


FIRST_PINNED_VERSION: Final = (2019, 1)
"""Versions are pinned per PSA release from 2019.1 on (vendor guide "PSA Versioning")."""


def check_version(request: web.Request) -> web.Response | None:
    """The refusal for an ``Accept: application/vnd.connectwise.com+json; version=…`` this
    server cannot serve, or None. A release at or after 2019.1 gets the newest model at or
    before it (vendor guide: "if you pass 2019.1, 2019.2 or 2019.3, you will get model A");
    the simulator has one model, the current one."""
    for media in request.headers.getall("Accept", []):
        for item in media.split(","):
            kind, *params = (part.strip() for part in item.split(";"))
            if kind.lower() != "application/vnd.connectwise.com+json":
                continue
            for param in params:
                name, _, value = param.partition("=")
                if name.strip().lower() != "version":
                    continue
                year, _, release = value.strip().strip('"').partition(".")
                if not (year.isdigit() and release.isdigit()) or (
                        (int(year), int(release)) < FIRST_PINNED_VERSION):
                    return cw_error(400, f"API version '{value.strip()}' is not supported", errors=[{
                        "code": "InvalidField", "message": "Unsupported API version",
                        "resource": "request", "field": "Accept"}])
    return None


def api_middleware(config: CwConfig) -> Middleware:
    @web.middleware
    async def connectwise(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(config.api_prefix + "/"):
            return await handler(request)
        refusal = check_auth(request, config) or check_version(request)
        if refusal is not None:
            return refusal
        request = canonical_query(request)
        try:
            response = await handler(request)
        except BadQuery as err:
            return cw_error(400, str(err), errors=[{
                "code": "InvalidField", "message": str(err), "resource": request.path.rsplit("/", 1)[-1],
                "field": err.field}])
        except web.HTTPNotFound:
            return cw_error(404, f"The resource {request.path} was not found")
        except web.HTTPMethodNotAllowed:
            return cw_error(405, f"{request.method} is not allowed on {request.path}")
        response.headers.setdefault("api-current-version", VERSION_CODE.lstrip("v"))
        return response

    return connectwise
