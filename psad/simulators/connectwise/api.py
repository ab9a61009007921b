"""The request handlers for lists, counts, single records, ``/system/info`` and
``/login/companyinfo``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from psad.simulators import apply_overrides
from psad.simulators.connectwise.config import VERSION_CODE, VERSION_NUMBER, CwConfig, Wire
from psad.simulators.connectwise.errors import cw_json, not_found
from psad.simulators.connectwise.query import (
    fields_tree,
    filter_plan,
    forward_page,
    int_param,
    link_header,
    order_keys,
    page_size,
    page_url,
    project,
    select,
)
from psad.simulators.connectwise.resources import Resource
from psad.simulators.connectwise.wire import omit_absent
from psad.simulators.dataset import Dataset


class Api:
    """The request handlers of one app; everything reads the app's dataset."""

    def __init__(self, ds: Dataset, config: CwConfig) -> None:
        self.ds = ds
        self.config = config

    def base(self, request: web.Request) -> str:
        return f"{request.scheme}://{request.host}{self.config.api_prefix}"

    def wire(self, resource: Resource, record: Any, base: str, tree: Mapping[str, Any] | None) -> Wire:
        wire = omit_absent(resource.render(self.ds, record, base))
        overrides = None if resource.static is not None else self.ds.overrides(resource.entity, record.id)
        if overrides:
            wire = apply_overrides(wire, overrides)
        return wire if tree is None else project(wire, tree)

    def table(self, resource: Resource) -> Mapping[int, Any]:
        return self.ds.table(resource.entity) if resource.static is None else resource.static

    def candidates(self, resource: Resource, request: web.Request) -> Sequence[int] | web.Response:
        if resource.static is not None:
            return list(resource.static)
        if resource.parent is None:
            return self.ds.ids(resource.entity)
        parent_id = int(request.match_info["parent"])
        if self.ds.get(resource.parent, parent_id) is None:
            return not_found(resource.parent_label, parent_id)
        return self.ds.children(resource.entity, parent_id)

    def list_handler(self, resource: Resource) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            ids = self.candidates(resource, request)
            if isinstance(ids, web.Response):
                return ids
            plan = filter_plan(request, resource)
            size = page_size(request)
            tree = fields_tree(request.query.get("fields"))
            table = self.table(resource)
            page_ids: Sequence[int]
            if request.headers.get("pagination-type", "").lower() == "forward-only":
                after = int_param(request, "pageId", 0)
                page_ids, more = forward_page(table, ids, plan, after, size)
                link = f'<{page_url(request, pageId=page_ids[-1])}>; rel="next"' if more else ""
            else:
                keys = order_keys(request.query.get("orderBy"), resource.fields)
                selection = select(table, ids, plan, keys)
                page = max(int_param(request, "page", 1), 1)
                page_ids = selection.page((page - 1) * size, size)
                link = link_header(request, page, -(-selection.total // size))
            base = self.base(request)
            body = [self.wire(resource, table[i], base, tree) for i in page_ids]
            return cw_json(body, headers={"Link": link})

        return handle

    def count_handler(self, resource: Resource) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            ids = self.candidates(resource, request)
            if isinstance(ids, web.Response):
                return ids
            plan = filter_plan(request, resource)
            selection = select(self.table(resource), ids, plan, [])
            return cw_json({"count": selection.total})

        return handle

    def get_handler(self, resource: Resource) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            record_id = int(request.match_info["id"])
            record = self.table(resource).get(record_id)
            if record is not None and resource.parent_attr is not None:
                if getattr(record, resource.parent_attr) != int(request.match_info["parent"]):
                    record = None
            if record is None:
                return not_found(resource.label, record_id)
            tree = fields_tree(request.query.get("fields"))
            return cw_json(self.wire(resource, record, self.base(request), tree))

        return handle

    async def system_info(self, request: web.Request) -> web.Response:
        return cw_json({"version": VERSION_NUMBER, "isCloud": True,
                                  "serverTimeZone": "Eastern Standard Time", "cloudRegion": "NA"})

    async def company_info(self, request: web.Request) -> web.Response:
        if request.match_info["companyId"].casefold() != self.config.company_id.casefold():
            return cw_json(None)
        return cw_json({
            "CompanyName": self.config.company_id,
            "Codebase": self.config.codebase,
            "VersionCode": VERSION_CODE,
            "VersionNumber": VERSION_NUMBER,
            "CompanyID": self.config.company_id,
            "IsCloud": True,
            "SiteUrl": request.host,
        })
