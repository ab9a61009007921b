"""Request handling: the API path, queries, single records, counts, picklists and zone lookup."""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import quote

from aiohttp import web

from psad.simulators import apply_overrides
from psad.simulators.autotask.config import MAX_RECORDS, Wire, compact_dumps
from psad.simulators.autotask.errors import QueryError, at_error, at_json
from psad.simulators.autotask.query import FilterCompiler, json_key, plan_filter
from psad.simulators.autotask.resources import BLANK_RECORDS, Resource, resources, singular
from psad.simulators.autotask.state import AtConfig, AtState
from psad.simulators.autotask.wire import Tables
from psad.simulators.dataset import Dataset
from psad.simulators.id_plan import Plan


class Target(NamedTuple):
    """A parsed API path: ``/{zone}/ATServicesRest/V1.0/{tail}``."""

    zone: str
    tail: tuple[str, ...]

    @property
    def endpoint(self) -> str:
        return self.tail[0].lower() if self.tail else ""

    @property
    def prefix(self) -> str:
        return (f"/{self.zone}" if self.zone else "") + "/ATServicesRest/V1.0"


def parse_target(path: str) -> Target | None:
    parts = [p for p in path.split("/") if p]
    for i in range(len(parts) - 1):
        if parts[i].lower() == "atservicesrest" and parts[i + 1].lower() == "v1.0":
            return Target("/".join(parts[:i]), tuple(parts[i + 2:]))
    return None


def _no_resource(request: web.Request) -> web.Response:
    return at_error(404, f"No resource was found that matches the request URI '{request.path}'.")


def _method_not_allowed(method: str) -> web.Response:
    return at_json({"Message": f"The requested resource does not support http method '{method}'."},
                 status=405)


class Page(NamedTuple):
    ids: list[int]
    more_after: bool
    more_before: bool


class Api:
    def __init__(self, ds: Dataset, config: AtConfig, state: AtState) -> None:
        self.ds = ds
        self.config = config
        self.state = state
        self.tables = Tables()
        self.resources = resources(ds, self.tables)

    # -- dispatch -----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        target = parse_target(request.path)
        if target is None or not target.tail:
            return _no_resource(request)
        if target.endpoint == "zoneinformation":
            return self.zone_information(request)
        if target.endpoint == "thresholdinformation":
            if request.method != "GET":
                return _method_not_allowed(request.method)
            return at_json(self.state.budget.info())
        resource = self.resources.get(target.endpoint)
        if resource is None:
            return _no_resource(request)
        try:
            return await self.resource(request, target, resource)
        except QueryError as err:
            return at_error(500, str(err))
        except _MethodNotAllowed:
            return _method_not_allowed(request.method)

    async def resource(self, request: web.Request, target: Target,
                       resource: Resource) -> web.Response:
        rest = [p.lower() for p in target.tail[1:]]
        method = request.method
        if rest in (["query"], ["query", "next"], ["query", "count"]):
            if method not in ("GET", "POST"):
                return _method_not_allowed(method)
            body = await self.query_body(request, rest == ["query", "next"])
            if rest == ["query", "count"]:
                return self.count(resource, body)
            return self.query(request, target, resource, body, rest == ["query", "next"])
        if method != "GET":
            return _method_not_allowed(method)
        if rest == ["entityinformation"]:
            return at_json({"info": self.entity_info(resource)})
        if rest == ["entityinformation", "fields"]:
            return at_json({"fields": self.field_info(resource)})
        if rest == ["entityinformation", "userdefinedfields"]:
            return at_json({"fields": resource.udf_defs() if resource.udf_defs else []})
        if len(rest) == 1 and rest[0].isdigit():
            ids, table = resource.rows()
            record = table.get(int(rest[0]))
            return at_json({"item": None if record is None else self.wire(resource, record)})
        return _no_resource(request)

    # -- queries ------------------------------------------------------------------------

    async def query_body(self, request: web.Request, is_next: bool) -> Mapping[str, Any]:
        if request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                raise QueryError("The request body is not valid JSON.") from None
            self.state.bodies.append((request.method, request.path, body))
        else:
            if is_next and "search" not in request.query:
                raise _MethodNotAllowed()
            try:
                body = json.loads(request.query.get("search", ""))
            except ValueError:
                raise QueryError("The search parameter is not valid JSON.") from None
        if not isinstance(body, dict):
            raise QueryError("The query must be a JSON object.")
        return body

    def plan(self, resource: Resource, body: Mapping[str, Any]) -> Plan:
        return plan_filter(json_key(body, "filter"),
                           FilterCompiler(resource.fields, resource.name, resource.udf))

    def count(self, resource: Resource, body: Mapping[str, Any]) -> web.Response:
        plan = self.plan(resource, body)
        ids, table = resource.rows()
        start, stop = plan.bounds(ids)
        if plan.residual is None:
            return at_json({"queryCount": stop - start})
        residual = plan.residual
        return at_json({"queryCount": sum(1 for i in ids[start:stop] if residual(table[i]))})

    def query(self, request: web.Request, target: Target, resource: Resource,
              body: Mapping[str, Any], is_next: bool) -> web.Response:
        plan = self.plan(resource, body)
        paging = self.paging(request) if is_next else {}
        size = paging.get("pageSize") or self.max_records(body)
        ids, table = resource.rows()
        if paging.get("nextIds", -1) == -1 and paging.get("previousIds", -1) != -1:
            page = self.page_before(ids, table, plan, paging["previousIds"], size)
        else:
            page = self.page_after(ids, table, plan, paging.get("nextIds", -1), size)
        include = self.include_fields(body)
        items = [self.wire(resource, table[i], include) for i in page.ids]
        search = request.query.get("search") if request.method == "GET" else None

        def link(token: Mapping[str, object]) -> str:
            url = (f"{request.scheme}://{request.host}{target.prefix}/{resource.name}/query/next"
                   f"?paging={quote(compact_dumps(token), safe='')}")
            return url + (f"&search={quote(search, safe='')}" if search else "")

        details = {
            "count": len(items), "requestCount": size,
            "prevPageUrl": link({"pageSize": size, "previousIds": [page.ids[0]],
                                 "nextIds": [-1]})
            if page.ids and page.more_before else None,
            "nextPageUrl": link({"pageSize": size, "previousIds": [page.ids[0]],
                                 "nextIds": [page.ids[-1]]})
            if page.ids and page.more_after else None,
        }
        return at_json({"items": items, "pageDetails": details})

    @staticmethod
    def max_records(body: Mapping[str, Any]) -> int:
        raw = json_key(body, "MaxRecords")
        if raw is None:
            return MAX_RECORDS
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_RECORDS:
            raise QueryError(f"MaxRecords must be between 1 and {MAX_RECORDS}.")
        return raw

    @staticmethod
    def include_fields(body: Mapping[str, Any]) -> frozenset[str] | None:
        raw = json_key(body, "IncludeFields")
        if not raw:
            return None
        if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
            raise QueryError("IncludeFields must be a list of field names.")
        return frozenset(f.lower() for f in raw) | {"id"}

    @staticmethod
    def paging(request: web.Request) -> dict[str, int]:
        """``{"pageSize": 500, "previousIds": [-1], "nextIds": [725]}``, as Autotask's own
        ``nextPageUrl`` carries it (one id each for a query without sorting)."""
        try:
            token = json.loads(request.query.get("paging", ""))
            out = {"pageSize": int(token["pageSize"])}
            for key in ("previousIds", "nextIds"):
                if key in token:
                    out[key] = int(token[key][0])
            return out
        except (ValueError, AttributeError, TypeError, KeyError, IndexError):
            raise QueryError("The paging information is not valid.") from None

    @staticmethod
    def _matches(table: Mapping[int, Any], plan: Plan) -> Callable[[int], bool]:
        residual = plan.residual
        return (lambda i: True) if residual is None else (lambda i: residual(table[i]))

    def page_after(self, ids: Sequence[int], table: Mapping[int, Any], plan: Plan, after: int,
                   size: int) -> Page:
        start, stop = plan.bounds(ids)
        first = max(start, bisect_right(ids, after))
        match = self._matches(table, plan)
        found: list[int] = []
        position = first
        for position in range(first, stop):
            if match(ids[position]):
                if len(found) == size:
                    return Page(found, True, self._any(ids, start, first, match))
                found.append(ids[position])
        return Page(found, False, self._any(ids, start, first, match))

    def page_before(self, ids: Sequence[int], table: Mapping[int, Any], plan: Plan, before: int,
                    size: int) -> Page:
        start, stop = plan.bounds(ids)
        last = min(stop, bisect_left(ids, before))
        match = self._matches(table, plan)
        found: list[int] = []
        for position in range(last - 1, start - 1, -1):
            if match(ids[position]):
                if len(found) == size:
                    found.reverse()
                    return Page(found, True, True)
                found.append(ids[position])
        found.reverse()
        return Page(found, True, False)

    @staticmethod
    def _any(ids: Sequence[int], lo: int, hi: int, match: Callable[[int], bool]) -> bool:
        """Whether a match lies in ``ids[lo:hi]``, searched from the end (the previous page)."""
        return any(match(ids[p]) for p in range(hi - 1, lo - 1, -1))

    def wire(self, resource: Resource, record: Any,
             include: frozenset[str] | None = None) -> Wire:
        blank = BLANK_RECORDS.get(resource.name)
        wire = resource.render(record) if blank is None else {**blank, **resource.render(record)}
        if resource.overrides is not None:
            overrides = self.ds.overrides(resource.overrides, record.id)
            if overrides:
                wire = apply_overrides(dict(wire), overrides)
        if include is not None:
            wire = {k: v for k, v in wire.items() if k.lower() in include}
        return wire

    # -- metadata -------------------------------------------------------------------------

    @staticmethod
    def entity_info(resource: Resource) -> Wire:
        return {"name": singular(resource.name),
                "canCreate": True, "canDelete": False, "canQuery": True, "canUpdate": True,
                "userAccessForCreate": "All", "userAccessForDelete": "None",
                "userAccessForQuery": "All", "userAccessForUpdate": "All",
                "hasUserDefinedFields": resource.udf_defs is not None,
                "supportsWebhookCallouts": resource.name in ("Companies", "Contacts", "Tickets",
                                                             "ConfigurationItems")}

    @staticmethod
    def field_info(resource: Resource) -> list[Wire]:
        picklists = resource.picklists() if resource.picklists else {}
        types = {"int": "integer", "str": "string", "bool": "boolean", "datetime": "datetime"}
        known = {name.lower(): name for name in picklists}
        out = []
        for lowered, found in resource.fields.items():
            name = known.get(lowered, found.name or lowered)
            values = picklists.get(name)
            out.append({"name": name, "dataType": types[found.kind], "length": 0,
                        "isRequired": lowered == "id", "isReadOnly": lowered == "id",
                        "isQueryable": True,
                        "isReference": lowered.endswith("id") and lowered != "id",
                        "referenceEntityType": "", "isPickList": values is not None,
                        "picklistValues": values, "picklistParentValueField": "",
                        "isSupportedWebhookField": False})
        for name, values in picklists.items():
            if name.lower() not in resource.fields:
                out.append({"name": name, "dataType": "integer", "length": 0, "isRequired": False,
                            "isReadOnly": False, "isQueryable": True, "isReference": False,
                            "referenceEntityType": "", "isPickList": True,
                            "picklistValues": values, "picklistParentValueField": "",
                            "isSupportedWebhookField": False})
        return out

    # -- zones -----------------------------------------------------------------------------

    def zone_information(self, request: web.Request) -> web.Response:
        if request.method != "GET":
            return _method_not_allowed(request.method)
        user = request.query.get("user", "")
        if user.casefold() != self.config.username.casefold():
            return at_error(500, "Zone information could not be determined")
        zone = self.state.zone
        root = f"{request.scheme}://{request.host}"
        number = "".join(ch for ch in zone if ch.isdigit())
        return at_json({"zoneName": f"Simulated zone {number or zone}",
                      "url": f"{root}/{zone}/ATServicesRest/",
                      "webUrl": f"{root}/ww{number}/", "ci": 1234567})


class _MethodNotAllowed(Exception):
    pass
