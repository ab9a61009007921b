"""Bundled requests: ``POST /system/bundles`` and ``/system/bundles/count``."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Final

from aiohttp import web

from psad.simulators.connectwise.api import Api
from psad.simulators.connectwise.conditions import BadQuery, plan_conditions
from psad.simulators.connectwise.config import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Wire
from psad.simulators.connectwise.errors import cw_error, cw_error_body, cw_json
from psad.simulators.connectwise.query import fields_tree, select
from psad.simulators.connectwise.resources import Resource, resources
from psad.simulators.faults import Faults


# --- bundled requests (POST /system/bundles) ------------------------------------------------
#
# Confirmed (vendor OpenAPI 2025.1 ``BundlesAPI``: ``PostSystemBundles``,
# ``PostSystemBundlesCount``, both taking a ``BundleRequestsCollection`` and answering a
# ``BundleResultsCollection``; models ``BundleRequest``, ``ApiRequest``, ``FilterValues``,
# ``PageValues``, ``BundleResult``; the developer page "Bundled Requests"): the body is
# ``{"requests": [{sequenceNumber, resourceType, version, apiRequest: {parentId,
# grandParentId, filters: {conditions, orderBy, childconditions, customfieldconditions},
# page: {page, pageSize, pageId}, fields}}]}``; the answer is ``{"results": [...]}``, each
# result with ``sequenceNumber``, ``resourceType``, ``entities``, ``count``, ``version``,
# ``success``, ``statusCode`` and ``error`` (an ``ErrorResponseMessage``), the records
# wrapped with their status, and the HTTP status depends on the mix of outcomes. The
# document spells the names as above; the developer page's examples write the request's
# in PascalCase (``SequenceNumber``, ``ApiRequest``…).
#
# Inferred: the server binds request names case-insensitively (ASP.NET model binding, as
# for query parameter names; it is what lets both spellings above work), so this one does;
# the exact statuses (200 all succeeded, 207 mixed, the shared status when every
# sub-request failed the same way, else 400); ``count`` is the number of matching records
# (``/count``) or of entities returned (a list); a successful result leaves ``error`` out
# (like any value a record lacks); which resourceType names map to which collections.
# Unconfirmed: the size limit. Neither the OpenAPI document nor the readable
# part of the vendor page names a number, so ``BUNDLE_LIMIT`` is this simulator's choice,
# settable per app, and a bundle over it is refused whole with a 400.

BUNDLE_LIMIT: Final = 100
"""Sub-requests per bundle this simulator accepts (the vendor's number is unpublished)."""

_BUNDLE_RESOURCES: Final = {
    "site": "/company/companies/{parent}/sites",
    "companysite": "/company/companies/{parent}/sites",
    "company": "/company/companies",
    "configuration": "/company/configurations",
    "contact": "/company/contacts",
    "board": "/service/boards",
    "boardstatus": "/service/boards/{parent}/statuses",
    "priority": "/service/priorities",
    "ticket": "/service/tickets",
}


class _SubRequestFailed(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def add_bundle_routes(app: web.Application, api: Api, *, faults: Faults, limit: int) -> None:
    """``POST /system/bundles`` (lists) and ``/system/bundles/count``: one call to the
    rate limit and the request log, however many sub-requests it carries."""
    by_path = {r.path: r for r in resources(api.ds)}
    table = {name.casefold(): by_path[path] for name, path in _BUNDLE_RESOURCES.items()}
    prefix = api.config.api_prefix
    app.router.add_post(prefix + "/system/bundles",
                        functools.partial(_bundle, api, table, faults, limit, False))
    app.router.add_post(prefix + "/system/bundles/count",
                        functools.partial(_bundle, api, table, faults, limit, True))


async def _bundle(api: Api, table: Mapping[str, Resource], faults: Faults, limit: int,
                  count_only: bool, request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return cw_error(400, "The request body is not valid JSON")
    requests = _member(body, "requests")
    if not isinstance(requests, list) or not requests:
        return cw_error(400, "requests: a non-empty list of bundled requests is required",
                        errors=[{"code": "MissingRequiredField", "message": "requests is required",
                                 "resource": "bundles", "field": "requests"}])
    if len(requests) > limit:
        return cw_error(400, f"A bundle may carry at most {limit} requests, got {len(requests)}",
                        errors=[{"code": "InvalidField", "message": "too many requests",
                                 "resource": "bundles", "field": "requests"}])
    base = api.base(request)
    results = [_sub_result(api, table, faults, item, base, count_only) for item in requests]
    statuses = {r["statusCode"] for r in results}
    if all(r["success"] for r in results):
        status = 200
    elif any(r["success"] for r in results):
        status = 207
    else:
        status = statuses.pop() if len(statuses) == 1 else 400
    return cw_json({"results": results}, status=status)


def _member(obj: Any, name: str) -> Any:
    """``obj``'s member ``name`` matched case-insensitively (ASP.NET model binding), or None
    when ``obj`` is not an object or lacks it."""
    if not isinstance(obj, dict):
        return None
    wanted = name.casefold()
    return next((v for k, v in obj.items() if k.casefold() == wanted), None)


def _sub_result(api: Api, table: Mapping[str, Resource], faults: Faults, item: Any, base: str,
                count_only: bool) -> Wire:
    echoed = {name: _member(item, name) for name in ("sequenceNumber", "resourceType", "version")}
    result: Wire = {name: value for name, value in echoed.items() if value is not None}
    try:
        entities, count = _sub_read(api, table, faults, item, base, count_only)
    except _SubRequestFailed as err:
        return {**result, "entities": [], "count": 0, "success": False,
                "statusCode": err.status, "error": cw_error_body(err.status, str(err))}
    except BadQuery as err:
        return {**result, "entities": [], "count": 0, "success": False, "statusCode": 400,
                "error": {**cw_error_body(400, str(err)), "errors": [{
                    "code": "InvalidField", "message": str(err), "resource": "bundles",
                    "field": err.field}]}}
    return {**result, "entities": entities, "count": count, "success": True, "statusCode": 200}


def _sub_read(api: Api, table: Mapping[str, Resource], faults: Faults, item: Any,
              base: str, count_only: bool) -> tuple[list[Wire], int]:
    kind = _member(item, "resourceType")
    resource = table.get(kind.casefold()) if isinstance(kind, str) else None
    if resource is None:
        raise _SubRequestFailed(400, f"resourceType {kind!r} cannot be bundled")
    call = _member(item, "apiRequest") or {}
    if not isinstance(call, dict):
        raise _SubRequestFailed(400, "apiRequest must be an object")
    path = resource.path
    ids: Sequence[int]
    if resource.parent is None:
        ids = api.ds.ids(resource.entity)
    else:
        parent = _member(call, "parentId")
        if not isinstance(parent, int) or isinstance(parent, bool):
            raise _SubRequestFailed(400, f"apiRequest.parentId is required for {kind}")
        if api.ds.get(resource.parent, parent) is None:
            raise _SubRequestFailed(404, f"{resource.parent_label} with id {parent} not found")
        ids = api.ds.children(resource.entity, parent)
        path = path.replace("{parent}", str(parent))
    fault = faults.take("GET", api.config.api_prefix + path)
    if fault is not None and fault.kind == "status":
        raise _SubRequestFailed(fault.status, "Injected fault")
    conditions = _member(_member(call, "filters"), "conditions")
    plan = plan_conditions(conditions or None, resource.fields)
    records = api.ds.table(resource.entity)
    if count_only:
        return [], select(records, ids, plan, []).total
    page = _member(call, "page")
    number = _member(page, "page") or 1
    size = _member(page, "pageSize") or DEFAULT_PAGE_SIZE
    if not isinstance(number, int) or not isinstance(size, int):
        raise _SubRequestFailed(400, "apiRequest.page: page and pageSize must be integers")
    size = DEFAULT_PAGE_SIZE if size < 1 else min(size, MAX_PAGE_SIZE)
    chosen = select(records, ids, plan, []).page((max(number, 1) - 1) * size, size)
    fields = _member(call, "fields")
    tree = fields_tree(fields if isinstance(fields, str) else None)
    entities = [api.wire(resource, records[i], base, tree) for i in chosen]
    return entities, len(entities)
