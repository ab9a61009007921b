"""The request handlers: customers, contacts, assets, tickets and settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiohttp import web

from psad.simulators.dataset import Dataset, Ticket
from psad.simulators.syncro.config import CLOSED_STATUSES, WEBSITE_FIELD
from psad.simulators.syncro.errors import syncro_error, syncro_json
from psad.simulators.syncro.gate import SyncroConfig
from psad.simulators.syncro.query import (
    Window,
    contains_text,
    flag_param,
    ids_param,
    int_value,
    moment_param,
    page_param,
)
from psad.simulators.syncro.wire import (
    ASSET_TYPE_IDS,
    Renderer,
    priority_names,
    status_names,
    ticket_number,
)


class Api:
    def __init__(self, ds: Dataset, config: SyncroConfig) -> None:
        self.ds = ds
        self.config = config

    def renderer(self, request: web.Request) -> Renderer:
        return Renderer(self.ds, f"{request.scheme}://{request.host}")

    def window(self, request: web.Request, resource: str, ids: Sequence[int]) -> Window:
        return Window(ids, page_param(request), len(ids), self.config.page_sizes[resource])

    # customers

    def customer_ids(self, request: web.Request) -> Sequence[int]:
        ds = self.ds
        render = self.renderer(request)
        wanted, unwanted = ids_param(request, "id"), ids_param(request, "not_id")
        query = request.query.get("query") or None
        business = request.query.get("business_name") or None
        include_disabled = flag_param(request, "include_disabled")
        if not (wanted or unwanted or query or business) and include_disabled:
            return ds.ids("companies")
        out = []
        for company_id in ds.ids("companies"):
            c = ds.companies[company_id]
            if ((not include_disabled and render.disabled(c))
                    or (wanted and company_id not in wanted) or company_id in unwanted
                    or (query and not contains_text(query, c.name, c.phone, c.city))
                    or (business and not contains_text(business, c.name))):
                continue
            out.append(company_id)
        return out

    async def customers(self, request: web.Request) -> web.Response:
        window = self.window(request, "customers", self.customer_ids(request))
        render = self.renderer(request)
        items = [render.customer(self.ds.companies[i]) for i in window.page_ids()]
        return syncro_json({"customers": items, "meta": window.meta()})

    async def customer(self, request: web.Request) -> web.Response:
        company = self.ds.companies.get(int(request.match_info["id"]))
        if company is None:
            return syncro_error(404)
        return syncro_json({"customer": self.renderer(request).customer(company)})

    # contacts

    async def contacts(self, request: web.Request) -> web.Response:
        ids: Sequence[int] = self.ds.ids("contacts")
        customer_id = int_value(request.query.get("customer_id"))
        if customer_id is not None:
            ids = [i for i in ids if self.ds.contacts[i].company_id == customer_id]
        window = self.window(request, "contacts", ids)
        render = self.renderer(request)
        items = [render.contact(self.ds.contacts[i]) for i in window.page_ids()]
        return syncro_json({"contacts": items, "meta": window.meta()})

    async def contact(self, request: web.Request) -> web.Response:
        contact = self.ds.contacts.get(int(request.match_info["id"]))
        if contact is None:
            return syncro_error(404)
        return syncro_json(self.renderer(request).contact(contact))

    # assets

    async def assets(self, request: web.Request) -> web.Response:
        ids: Sequence[int] = self.ds.ids("assets")
        customer_id = int_value(request.query.get("customer_id"))
        type_id = int_value(request.query.get("asset_type_id"))
        query = request.query.get("query") or None
        if customer_id is not None or type_id is not None or query:
            table = self.ds.assets
            ids = [i for i in ids
                   if (customer_id is None or table[i].company_id == customer_id)
                   and (type_id is None or ASSET_TYPE_IDS.get(table[i].type or "") == type_id)
                   and (not query or contains_text(query, table[i].name, table[i].serial_number))]
        window = self.window(request, "customer_assets", ids)
        render = self.renderer(request)
        items = [render.asset(self.ds.assets[i]) for i in window.page_ids()]
        return syncro_json({"assets": items, "meta": window.meta()})

    async def asset(self, request: web.Request) -> web.Response:
        asset = self.ds.assets.get(int(request.match_info["id"]))
        if asset is None:
            return syncro_error(404)
        return syncro_json({"asset": self.renderer(request).asset(asset)})

    # tickets

    def ticket_matcher(self, request: web.Request) -> Callable[[Ticket], bool] | None:
        q = request.query
        ds = self.ds
        customer_id, contact_id = int_value(q.get("customer_id")), int_value(q.get("contact_id"))
        number, user_id = int_value(q.get("number")), int_value(q.get("user_id"))
        status = q.get("status") or None
        text = q.get("query") or None
        since = moment_param(q.get("since_updated_at"), "since_updated_at")
        created_after = moment_param(q.get("created_after"), "created_after")
        resolved_after = moment_param(q.get("resolved_after"), "resolved_after")
        if not any(v is not None for v in (customer_id, contact_id, number, user_id, status, text,
                                           since, created_after, resolved_after)):
            return None

        def status_of(t: Ticket) -> str:
            found = ds.ticket_statuses.get(t.status_id) if t.status_id is not None else None
            return found.name if found else "New"

        def matches(t: Ticket) -> bool:
            name = status_of(t)
            if customer_id is not None and t.company_id != customer_id:
                return False
            if contact_id is not None and t.contact_id != contact_id:
                return False
            if number is not None and ticket_number(t.id) != number:
                return False
            if user_id is not None:
                return False  # no ticket is assigned to a user
            if status == "Not Closed" and name in CLOSED_STATUSES:
                return False
            if status not in (None, "Not Closed") and name != status:
                return False
            if since is not None and t.updated_at <= since:
                return False
            if created_after is not None and t.created_at <= created_after:
                return False
            if resolved_after is not None and (name not in CLOSED_STATUSES
                                                or t.updated_at <= resolved_after):
                return False
            if text is not None:
                company = ds.companies.get(t.company_id) if t.company_id is not None else None
                if not (contains_text(text, t.summary, company.name if company else None)
                        or text.strip() == str(ticket_number(t.id))):
                    return False
            return True

        return matches

    async def tickets(self, request: web.Request) -> web.Response:
        matcher = self.ticket_matcher(request)
        ids = self.ds.ids("tickets")[::-1]
        if matcher is not None:
            ids = [i for i in ids if matcher(self.ds.tickets[i])]
        window = self.window(request, "tickets", ids)
        render = self.renderer(request)
        items = [render.ticket(self.ds.tickets[i]) for i in window.page_ids()]
        return syncro_json({"tickets": items, "meta": window.meta(short=True)})

    async def ticket(self, request: web.Request) -> web.Response:
        ticket = self.ds.tickets.get(int(request.match_info["id"]))
        if ticket is None:
            return syncro_error(404)
        return syncro_json({"ticket": self.renderer(request).ticket(ticket, detail=True)})

    # settings

    async def ticket_settings(self, request: web.Request) -> web.Response:
        return syncro_json({
            "ticket_status_list": status_names(self.ds), "default_labor_product_id": None,
            "ticket_timer_charge_by_default": None, "saved_searches": [], "ticket_types": [],
            "ticket_type_fields": [], "ticket_type_field_answers": [], "appointment_types": [],
            "users": [{"id": 1, "name": "psad Simulator"}], "dashboard_settings": None,
            "worksheet_templates": [], "require_ticket_type": None,
            "require_intake_form_with_ticket": None, "require_outtake_form_with_ticket": None,
            "ticket_workflow_default_id": None,
        })

    async def settings(self, request: web.Request) -> web.Response:
        ds = self.ds
        return syncro_json({
            "customers": {"required_fields": None, "customer_field_answers": [],
                          "customer_fields": [{"id": 1, "name": WEBSITE_FIELD,
                                               "field_type": "text_field"}]},
            "assets": {"asset_types": [{"id": i, "name": n} for n, i in ASSET_TYPE_IDS.items()],
                       "asset_type_fields": [], "asset_type_field_answers": []},
            "locale": {"iso_code": "en", "currency_symbol": "$", "date_format": "mm-dd-yy",
                       "time_format": "hh:mm tt", "time_zone": "UTC", "time_offset": "+00:00"},
            "ticket": {"ticket_types": [], "ticket_type_fields": [],
                       "ticket_type_field_answers": [],
                       "problem_types": [b.name for b in ds.records("boards")],
                       "priorities": priority_names(ds)},
            "business_hours_enabled": False, "business_hours": [],
            "default_holiday_calendar": "USA", "msp_addon": None,
        })

    async def me(self, request: web.Request) -> web.Response:
        return syncro_json({"user_id": 1, "user_name": "psad Simulator", "user_email": "sim@psad.invalid",
                      "admin": True, "subdomain": "psad-demo", "permissions": {}})
