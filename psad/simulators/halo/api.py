"""The request handlers: the token endpoint, paged lists, single records and lookups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from psad.simulators import apply_overrides
from psad.simulators.dataset import Dataset
from psad.simulators.halo.config import DEFAULT_PAGE_SIZE, SCOPES, Wire
from psad.simulators.halo.errors import BadParam, halo_error, halo_json, oauth_error
from psad.simulators.halo.lists import COLLECTIONS, Collection
from psad.simulators.halo.query import Query
from psad.simulators.halo.state import HaloState
from psad.simulators.halo.wire import Renderer


class Api:
    def __init__(self, ds: Dataset, state: HaloState) -> None:
        self.ds = ds
        self.state = state

    async def token(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return oauth_error("invalid_request", "The request must be form encoded")
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.state.token_requests.append(form)
        if not self.state.knows_tenant(request):
            return oauth_error("invalid_request", "Unknown or missing tenant")
        if form.get("grant_type") != "client_credentials":
            return oauth_error("unsupported_grant_type", "Only client_credentials is allowed")
        if (form.get("client_id") != self.state.client_id
                or form.get("client_secret") != self.state.client_secret):
            return oauth_error("invalid_client", "Invalid client credentials")
        scopes = (form.get("scope") or "all").split()
        if not scopes or any(s not in SCOPES for s in scopes):
            return oauth_error("invalid_scope", f"Invalid scope: {form.get('scope')}")
        return halo_json({"scope": " ".join(scopes), "token_type": "Bearer",
                      "access_token": self.state.issue(),
                      "expires_in": self.state.token_lifetime})

    async def authinfo(self, request: web.Request) -> web.Response:
        return halo_json({"auth_url": f"{request.scheme}://{request.host}/auth",
                      "tenant_id": self.state.tenant or ""})

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.match_info["tail"].split("/") if p]
        if not parts:
            return halo_error(404, "No HTTP resource was found that matches the request URI")
        name = parts[0].casefold()
        if name == "authinfo" and len(parts) == 1:
            return await self.authinfo(request)
        if request.method != "GET":
            return halo_error(405, f"The requested resource does not support {request.method}")
        q = Query(request)
        renderer = Renderer(self.ds)
        if name in ("team", "status", "priority") and len(parts) == 1:
            return halo_json(self.lookup(name, renderer, q))
        collection = COLLECTIONS.get(name)
        if collection is None or len(parts) > 2:
            return halo_error(404, "No HTTP resource was found that matches the request URI")
        if len(parts) == 2:
            return self.one(collection, renderer, parts[1], q)
        return halo_json(self.listing(collection, renderer, q))

    def wire(self, collection: Collection, renderer: Renderer, record: Any, q: Query,
             **kwargs: Any) -> Wire:
        render: Any = collection.render
        wire = render(renderer, record, q, **kwargs)
        return apply_overrides(wire, self.ds.overrides(collection.entity, record.id))

    def one(self, collection: Collection, renderer: Renderer, raw_id: str, q: Query,
            ) -> web.Response:
        try:
            record_id = int(raw_id)
        except ValueError:
            raise BadParam(f"The value '{raw_id}' is not valid for id.") from None
        record = self.ds.get(collection.entity, record_id)
        if record is None:
            return halo_error(404, f"{collection.label} {record_id} not found")
        detail = {"detail": True} if collection.entity in ("sites", "tickets") else {}
        return halo_json(self.wire(collection, renderer, record, q, **detail))

    def listing(self, collection: Collection, renderer: Renderer, q: Query) -> Wire:
        table = self.ds.table(collection.entity)
        ids: Sequence[int] = self.ds.ids(collection.entity)
        preds = collection.filters(renderer, q)
        if preds:
            ids = [i for i in ids if all(p(table[i]) for p in preds)]
        ids = _ordered(ids, table, q)
        total = len(ids)
        if q.flag("idonly") or q.flag("ticketidonly"):
            return {"record_count": total, collection.key: [{"id": i} for i in ids]}
        if q.flag("pageinate"):
            size = q.number("page_size", DEFAULT_PAGE_SIZE) or DEFAULT_PAGE_SIZE
            size = min(max(size, 1), collection.max_page_size)
            page_no = max(q.number("page_no", 1) or 1, 1)
            start = (page_no - 1) * size
            page = ids[start:start + size]
            rows = [self.wire(collection, renderer, table[i], q) for i in page]
            return {"page_no": page_no, "page_size": size, "record_count": total,
                    collection.key: rows}
        count = q.number("count")
        shown = ids if count is None or count < 0 else ids[:count]
        return {"record_count": total,
                collection.key: [self.wire(collection, renderer, table[i], q) for i in shown]}

    def lookup(self, name: str, renderer: Renderer, q: Query) -> list[Wire]:
        ds = self.ds
        if name == "team":
            return [apply_overrides(renderer.team(b), ds.overrides("boards", b.id))
                    for b in ds.records("boards")]
        if name == "status":
            kind = (q.text("type") or "ticket").casefold()
            if kind != "ticket":
                return []
            statuses = sorted((s for s in renderer.canonical_statuses().values()
                               if not (s.closed and q.flag("excludeclosed"))),
                              key=lambda s: (s.sort_order, s.id))
            return [apply_overrides(renderer.status(s), ds.overrides("ticket_statuses", s.id))
                    for s in statuses]
        return [apply_overrides(row, ds.overrides("priorities", p.id))
                for p in ds.records("priorities") for row in renderer.priorities(p)]


def _ordered(ids: Sequence[int], table: Mapping[int, Any], q: Query) -> Sequence[int]:
    order = (q.text("order") or "id").casefold()
    descending = q.flag("orderdesc")
    if order == "name" and ids and hasattr(table[ids[0]], "name"):
        return sorted(ids, key=lambda i: (table[i].name.casefold(), i), reverse=descending)
    return list(reversed(ids)) if descending else ids
