"""The request handlers: sign-in, accounts, contacts, custom fields, assets and tickets."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from psad.simulators.dataset import Company, Contact, Dataset, Ticket
from psad.simulators.kaseya_bms.config import Wire
from psad.simulators.kaseya_bms.errors import failure, ok
from psad.simulators.kaseya_bms.query import (
    between,
    bool_value,
    id_set,
    int_value,
    lower_keys,
    moment_value,
    name_set,
    page_params,
    page_slice,
)
from psad.simulators.kaseya_bms.state import BmsState, LoggedBody, Session
from psad.simulators.kaseya_bms.wire import (
    INACTIVE_ASSET_STATES,
    account_is_active,
    global_statuses,
    render_account,
    render_account_lookup,
    render_asset,
    render_asset_row,
    render_contact,
    render_contact_search,
    render_custom_fields,
    render_location,
    render_priority,
    render_queue,
    render_status,
    render_ticket,
    with_overrides,
)


def _query(request: web.Request) -> dict[str, Any]:
    return lower_keys(request.query.items())


async def _form(request: web.Request, state: BmsState) -> dict[str, str] | web.Response:
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return web.Response(status=415)
    posted = {k: str(v) for k, v in (await request.post()).items()}
    state.bodies.append(LoggedBody(request.method, request.path, request.content_type, posted))
    return lower_keys(posted.items())


def token_result(session: Session) -> Wire:
    def at(moment: float) -> str:
        return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")
    return {"accessToken": session.access, "refreshToken": session.refresh,
            "accessTokenExpireOn": at(session.access_expires),
            "refreshTokenExpireOn": at(session.refresh_expires)}


class Api:
    """Request handlers; everything reads the app's dataset and state."""

    def __init__(self, ds: Dataset, state: BmsState) -> None:
        self.ds = ds
        self.state = state
        self.config = state.config

    # -- security ----------------------------------------------------------------------

    async def authenticate(self, request: web.Request) -> web.Response:
        fields = await _form(request, self.state)
        if isinstance(fields, web.Response):
            return fields
        grant = fields.get("granttype", "")
        if not grant:
            return failure(400, "The GrantType field is required.")
        if grant.lower() != "password":
            return failure(400, f"Grant type '{grant}' is not supported.")
        config = self.config
        if (fields.get("tenant", "").casefold() != config.tenant.casefold()
                or fields.get("username", "").casefold() != config.username.casefold()
                or fields.get("password", "") != config.password):
            return failure(401, "Invalid user name, password or company name.")
        return ok(token_result(self.state.issue()))

    async def refresh_token(self, request: web.Request) -> web.Response:
        fields = await _form(request, self.state)
        if isinstance(fields, web.Response):
            return fields
        access = fields.get("accesstoken", "")
        if not access:
            return failure(400, "The AccessToken field is required.")
        session = self.state.by_refresh(access, fields.get("refreshtoken", ""))
        if session is None:
            return failure(401, "The refresh token is invalid or has expired.")
        self.state.revoke(session)
        return ok(token_result(self.state.issue()))

    # -- crm ---------------------------------------------------------------------------

    async def accounts_summary(self, request: web.Request) -> web.Response:
        q = _query(request)
        number, size = page_params(q)
        modified = (moment_value(q.get("filter.modifiedonfrom"), "ModifiedOnFrom"),
                    moment_value(q.get("filter.modifiedonto"), "ModifiedOnTo"))
        created = (moment_value(q.get("filter.createdonfrom"), "CreatedOnFrom"),
                   moment_value(q.get("filter.createdonto"), "CreatedOnTo"))
        active = bool_value(q.get("filter.isactive"), "IsActive")
        name = str(q.get("filter.accountname") or "").casefold()
        type_id = int_value(q.get("filter.accounttypeid"), "AccountTypeId", 0)
        ds = self.ds

        def keep(c: Company) -> bool:
            return (between(c.updated_at, *modified) and between(c.created_at, *created)
                    and (active is None or account_is_active(ds, c) == active)
                    and (not name or name in c.name.casefold())
                    and (not type_id or (bool(c.type_ids) and c.type_ids[0] == type_id)))

        chosen = [c for c in ds.records("companies") if keep(c)]
        page = page_slice(chosen, number, size)
        tenant = self.config.tenant
        return ok([with_overrides(ds, "companies", c.id, render_account(ds, c, tenant))
                   for c in page], total=len(chosen))

    async def accounts_lookup(self, request: web.Request) -> web.Response:
        q = _query(request)
        number, size = page_params(q)
        with_inactive = bool_value(q.get("filter.withinactiveaccounts"), "WithInactiveAccounts")
        name = str(q.get("filter.name") or "").casefold()
        ds = self.ds
        chosen = [c for c in ds.records("companies")
                  if (with_inactive or account_is_active(ds, c))
                  and (not name or name in c.name.casefold())]
        tenant = self.config.tenant
        return ok([render_account_lookup(ds, c, tenant) for c in page_slice(chosen, number, size)])

    async def account_types(self, request: web.Request) -> web.Response:
        return ok([{"id": t.id, "name": t.name, "isActive": True, "isClient": t.name == "Client",
                    "isVendor": t.name == "Vendor"} for t in self.ds.records("company_types")])

    async def account_locations(self, request: web.Request) -> web.Response:
        account_id = int(request.match_info["accountId"])
        if account_id not in self.ds.companies:
            return failure(404, f"Account {account_id} was not found.")
        return ok([{"id": s.id, "name": s.name, "accountId": account_id, "isMain": s.primary}
                   for s in (self.ds.sites[i] for i in self.ds.children("sites", account_id))])

    async def account_location(self, request: web.Request) -> web.Response:
        account_id = int(request.match_info["accountId"])
        site = self.ds.sites.get(int(request.match_info["locationId"]))
        if site is None or site.company_id != account_id:
            return failure(404, "Location was not found.")
        return ok(render_location(self.ds, site))

    def _contacts(self, q: Mapping[str, Any]) -> list[Contact]:
        modified = (moment_value(q.get("filter.modifiedonfrom"), "ModifiedOnFrom"),
                    moment_value(q.get("filter.modifiedonto"), "ModifiedOnTo"))
        created = (moment_value(q.get("filter.createdonfrom"), "CreatedOnFrom"),
                   moment_value(q.get("filter.createdonto"), "CreatedOnTo"))
        active = bool_value(q.get("filter.isactive"), "IsActive")
        account = int_value(q.get("filter.accountid"), "AccountId", 0)
        first = str(q.get("filter.firstname") or "").casefold()
        last = str(q.get("filter.lastname") or "").casefold()

        def keep(c: Contact) -> bool:
            return (between(c.updated_at, *modified) and between(c.created_at, *created)
                    and (active is None or c.active == active)
                    and (not account or c.company_id == account)
                    and (not first or first in (c.first_name or "").casefold())
                    and (not last or last in (c.last_name or "").casefold()))

        return [c for c in self.ds.records("contacts") if keep(c)]

    async def contacts_summary(self, request: web.Request) -> web.Response:
        q = _query(request)
        number, size = page_params(q)
        chosen = self._contacts(q)
        ds = self.ds
        return ok([with_overrides(ds, "contacts", c.id, render_contact(ds, c))
                   for c in page_slice(chosen, number, size)], total=len(chosen))

    async def contacts_search(self, request: web.Request) -> web.Response:
        q = _query(request)
        number, size = page_params(q)
        chosen = self._contacts(q)
        return ok([render_contact_search(self.ds, c) for c in page_slice(chosen, number, size)])

    async def custom_fields(self, request: web.Request) -> web.Response:
        module = int(request.match_info["moduleId"])
        object_id = int(request.match_info["objectId"])
        if module != self.config.contact_module_id:
            return ok([])
        contact = self.ds.contacts.get(object_id)
        if contact is None:
            return failure(404, f"Record {object_id} was not found.")
        return ok(render_custom_fields(self.ds.contact_fields, contact.id, contact.custom_fields))

    # -- service desk ------------------------------------------------------------------

    async def assets_searchselect(self, request: web.Request) -> web.Response:
        q = _query(request)
        number, size = page_params(q)
        active = bool_value(q.get("filter.isactive"), "IsActive")
        account = int_value(q.get("filter.accountid"), "AccountId", 0)
        serial = str(q.get("filter.serialnumber") or "").casefold()
        ds = self.ds
        chosen = [a for a in ds.records("assets")
                  if (active is None or (a.status not in INACTIVE_ASSET_STATES) == active)
                  and (not account or a.company_id == account)
                  and (not serial or serial in (a.serial_number or "").casefold())]
        return ok([with_overrides(ds, "assets", a.id, render_asset_row(ds, a))
                   for a in page_slice(chosen, number, size)])

    async def asset(self, request: web.Request) -> web.Response:
        asset_id = int(request.match_info["assetId"])
        found = self.ds.assets.get(asset_id)
        if found is None:
            return failure(404, f"Hardware asset {asset_id} was not found.")
        return ok(with_overrides(self.ds, "assets", asset_id, render_asset(self.ds, found)))

    async def queues(self, request: web.Request) -> web.Response:
        return ok([with_overrides(self.ds, "boards", b.id, render_queue(self.ds, b))
                   for b in self.ds.records("boards")])

    async def priorities(self, request: web.Request) -> web.Response:
        return ok([with_overrides(self.ds, "priorities", p.id, render_priority(self.ds, p))
                   for p in self.ds.records("priorities")])

    async def statuses(self, request: web.Request) -> web.Response:
        return ok([with_overrides(self.ds, "ticket_statuses", s.id, render_status(self.ds, s))
                   for s in global_statuses(self.ds).values()])

    def _tickets(self, f: Mapping[str, Any]) -> list[Ticket]:
        ds = self.ds
        accounts = id_set(f.get("accountids"), "AccountIds")
        queues = name_set(f.get("queuenames"))
        statuses = name_set(f.get("statusnames"))
        priorities = name_set(f.get("prioritynames"))
        title = str(f.get("title") or "").casefold()
        exclude_completed = int_value(f.get("excludecompleted"), "ExcludeCompleted", 0) == 1

        def name_of(table: Mapping[int, Any], key: int | None) -> str:
            found = table.get(key) if key is not None else None
            return "" if found is None else found.name.casefold()

        def keep(t: Ticket) -> bool:
            return ((accounts is None or t.company_id in accounts)
                    and (queues is None or name_of(ds.boards, t.board_id) in queues)
                    and (statuses is None or name_of(ds.ticket_statuses, t.status_id) in statuses)
                    and (priorities is None
                         or name_of(ds.priorities, t.priority_id) in priorities)
                    and (not title or title in t.summary.casefold())
                    and not (exclude_completed and t.closed))

        return [ds.tickets[i] for i in reversed(ds.ids("tickets")) if keep(ds.tickets[i])]

    def _ticket_page(self, f: Mapping[str, Any], number: int, size: int) -> web.Response:
        chosen = self._tickets(f)
        statuses = global_statuses(self.ds)
        return ok([with_overrides(self.ds, "tickets", t.id, render_ticket(self.ds, t, statuses))
                   for t in page_slice(chosen, number, size)], total=len(chosen))

    async def tickets_search(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return failure(400, "The request body is not valid JSON.")
        self.state.bodies.append(LoggedBody(request.method, request.path, request.content_type,
                                            body))
        if not isinstance(body, dict):
            return failure(400, "The request body must be an object.")
        top = lower_keys(body.items())
        raw_filter = top.get("filter") or {}
        if not isinstance(raw_filter, dict):
            return failure(400, "Filter must be an object.")
        number, size = page_params(top)
        return self._ticket_page(lower_keys(raw_filter.items()), number, size)

    async def tickets_list(self, request: web.Request) -> web.Response:
        """The deprecated GET form of the ticket search."""
        q = _query(request)
        number, size = page_params(q)
        filters = {k.removeprefix("filter."): v for k, v in q.items() if k.startswith("filter.")}
        return self._ticket_page(filters, number, size)

    async def ticket(self, request: web.Request) -> web.Response:
        ticket_id = int(request.match_info["ticketId"])
        found = self.ds.tickets.get(ticket_id)
        if found is None:
            return failure(404, f"Ticket {ticket_id} was not found.")
        statuses = global_statuses(self.ds)
        return ok(with_overrides(self.ds, "tickets", ticket_id,
                                 render_ticket(self.ds, found, statuses)))
