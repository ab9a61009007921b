"""HaloPSA simulator over the shared :class:`Dataset`.

``create_app(dataset)`` serves the Halo resource server under ``/api/`` (``Client``,
``Site``, ``Users``, ``Asset``, ``Tickets`` and their ``/{id}``, the bare-array lookups
``Team``, ``Status``, ``Priority``, and the unauthenticated ``authinfo``), the
authorisation server's ``POST /auth/token``, and the shared ``/_sim/`` control plane.
The wire facts it follows, and which of them are confirmed, are listed in
:mod:`psad.connectors.halo`; what the simulator adds on its own is marked there as
inferred:

- Paths and query names match case-insensitively (ASP.NET routing and model binding).
- Lists leave inactive rows out unless ``includeinactive=true``; ``idonly=true`` ignores
  paging and answers every id; ``page_no`` past the end answers an empty page (SQL
  ``OFFSET … FETCH`` paging; clients that page until an empty page stop); without
  ``pageinate`` the whole list comes back (``count`` caps it). Default page size 50,
  at most 1000 (``/Tickets``: 100); larger sizes are clamped.
- ``lastupdatefromdate`` keeps rows changed at or after the timestamp (``true``/``false``,
  the spec's bool reading, is ignored).
- Unset text comes as ``""``, unset dates as ``1900-01-01T00:00:00``; timestamps are UTC
  without a zone.
- A hosted tenant's token request names the tenant by ``?tenant=`` or, without it, by
  the hostname it is sent to (``{tenant}.halopsa.com``); a bare address without the
  parameter is refused.
- ``/Status`` rows carry no closed flag (TStatus in the spec has none, nor Policy an SLA
  name); ``excludeclosed=true`` (a spec parameter) leaves the closed ones out.
- Tokens are opaque; a missing, unknown or expired bearer token gets 401 with an empty
  body and ``WWW-Authenticate: Bearer error="invalid_token"``. Token errors use RFC 6749
  bodies (``{"error": "invalid_client"}``) with status 400.
- Other errors are .NET exception bodies ``{"ClassName", "Message"}``; 429 bodies carry
  ``{"error": "Rate Limit Reached - N Requests per rolling M minute window"}`` and a
  ``Retry-After`` header. The hosted limit (300 per rolling 5 minutes) is off by default
  and switched on with ``rate_limit=HOSTED_RATE_LIMIT``.

Vendor-neutral data is rendered in Halo's vocabulary: company status becomes
``client.inactive`` (the status's inactive flag), the first company type the client's top
level, the lowest-id primary site ``client.main_site_id``; "Decision Maker" contacts are
Halo's important contacts; ticket statuses, per board in the dataset, are rendered once per
name (the lowest id stands for all, as Halo statuses are global); priorities come once per
SLA. Site and contact countries have no Halo field and are not rendered.
"""

from __future__ import annotations

import functools
import json
import math
import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from psad.simulators import (
    add_control_routes,
    apply_overrides,
    name_ids,
    simulator_app,
)
from psad.simulators.dataset import (
    ASSET_STATUSES,
    ASSET_TYPES,
    Asset,
    Board,
    Company,
    Contact,
    CustomFieldDef,
    CustomValue,
    Dataset,
    Priority,
    Site,
    Ticket,
    TicketStatus,
)
from psad.simulators.faults import Faults
from psad.simulators.id_plan import Predicate

API_PATH: Final = "/api/"
DEMO_CLIENT_ID: Final = "7c1f3a52-9d4e-4b8a-a6f0-5e2d8c9b1a47"
DEMO_CLIENT_SECRET: Final = "b4e9c2d7-1f6a-4c3e-8b5d-0a9f7e6c2d18-3e7a9c1b-5d2f-4a8e-9c6b"
DEMO_TENANT: Final = "psaddemo"
SIMULATOR_SETTINGS: Final[dict[str, str]] = {"client_id": DEMO_CLIENT_ID, "tenant": DEMO_TENANT}
SIMULATOR_SECRETS: Final[dict[str, str]] = {"client_secret": DEMO_CLIENT_SECRET}

TOKEN_LIFETIME: Final = 3600
HOSTED_RATE_LIMIT: Final = (300, 300.0)
DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1000
MAX_TICKET_PAGE_SIZE: Final = 100
EMPTY_DATE: Final = "1900-01-01T00:00:00"
SCOPES: Final = frozenset({"all", "read:customers", "read:assets", "read:tickets",
                           "read:crm", "read:lookups", "read:users"})
SLAS: Final = (1, 2)
"""The SLA ids each priority is repeated for (Halo's Policy rows carry ``slaid`` only)."""
IMPORTANT_TYPE: Final = "Decision Maker"
HALO_FIELD_TYPES: Final = {"Text": 0, "Number": 0, "Date": 4, "Checkbox": 6}
TYPE_FIELDS: Final = ((101, "Serial Number"), (102, "Manufacturer"), (103, "Operating System"),
                      (104, "Purchase Date"))
_dumps: Final = functools.partial(json.dumps, separators=(",", ":"), check_circular=False)

Wire = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- state ------------------------------------------------------------------------------------


@dataclass(slots=True)
class HaloState:
    """Credentials, issued tokens, the rolling rate window and the token requests seen."""

    client_id: str
    client_secret: str
    tenant: str | None
    token_lifetime: int = TOKEN_LIFETIME
    rate_limit: tuple[int, float] | None = None
    clock: Callable[[], float] = time.monotonic
    tokens: dict[str, float] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    hits: deque[float] = field(default_factory=deque)

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens[token] = self.clock() + self.token_lifetime
        return token

    def valid(self, token: str) -> bool:
        expires = self.tokens.get(token)
        return expires is not None and self.clock() < expires

    def knows_tenant(self, request: web.Request) -> bool:
        """Whether the token request names this instance's tenant: by ``?tenant=``, or, without
        it, by the hostname a hosted tenant is reached at (``{tenant}.halopsa.com``, where the
        parameter is optional). An on-premise instance (no tenant) takes any request."""
        if self.tenant is None:
            return True
        named = request.query.get("tenant")
        if named is None:
            named = request.host.partition(".")[0] if "." in request.host else ""
        return named.casefold() == self.tenant.casefold()

    def revoke_all(self) -> None:
        """Forget every issued token, as a Halo restart or secret rotation would."""
        self.tokens.clear()

    def throttle(self) -> float | None:
        """Seconds until the rolling window has room, when this request is over the limit."""
        if self.rate_limit is None:
            return None
        limit, window = self.rate_limit
        now = self.clock()
        while self.hits and self.hits[0] <= now - window:
            self.hits.popleft()
        if len(self.hits) >= limit:
            return self.hits[0] + window - now
        self.hits.append(now)
        return None


STATE_KEY = web.AppKey("psad.simulators.halo.state", HaloState)


# --- errors ------------------------------------------------------------------------------------


def rate_limit_message(limit: tuple[int, float]) -> str:
    requests, window = limit
    return f"Rate Limit Reached - {requests} Requests per rolling {window / 60:g} minute window"


def halo_error_body(status: int, message: str) -> dict[str, Any]:
    """A Halo error body for ``status`` (also used for injected faults)."""
    if status == 429:
        return {"error": message}
    return {"ClassName": "System.Exception", "Message": message}


def _json(body: Any, *, status: int = 200,
          headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def halo_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return _json(halo_error_body(status, message), status=status, headers=headers)


def oauth_error(error: str, description: str) -> web.Response:
    return _json({"error": error, "error_description": description}, status=400)


class BadParam(Exception):
    """A query value ASP.NET model binding would refuse; becomes a 400."""


# --- query parsing -------------------------------------------------------------------------------


class Query:
    """Query parameters, names matched case-insensitively."""

    def __init__(self, request: web.Request) -> None:
        self.values = {k.casefold(): v for k, v in request.query.items()}

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value not in (None, "") else None

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise BadParam(f"The value '{value}' is not valid for {name}.")

    def number(self, name: str, default: int | None = None) -> int | None:
        value = self.text(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise BadParam(f"The value '{value}' is not valid for {name}.") from None

    def ints(self, name: str) -> set[int] | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return {int(v) for v in value.split(",") if v.strip()}
        except ValueError:
            raise BadParam(f"The value '{value}' is not valid for {name}.") from None

    def since(self) -> datetime | None:
        value = self.text("lastupdatefromdate")
        if value is None or value.lower() in ("true", "false"):
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadParam(f"The value '{value}' is not valid for lastupdatefromdate.") from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# --- rendering ---------------------------------------------------------------------------------


def ts(value: datetime) -> str:
    """Halo's timestamps: UTC, no zone suffix, whole seconds."""
    return value.astimezone(UTC).isoformat()[:19]


def day(value: date | None) -> str:
    return EMPTY_DATE if value is None else value.isoformat() + "T00:00:00"


ASSET_TYPE_IDS: Final = name_ids(ASSET_TYPES)
ASSET_STATUS_IDS: Final = name_ids(ASSET_STATUSES)
INACTIVE_ASSET_STATUSES: Final = frozenset({"Inactive", "Retired"})


def _custom_fields(defs: Sequence[CustomFieldDef], values: Mapping[str, CustomValue]) -> list[Wire]:
    out = []
    for d in defs:
        value = values.get(d.caption)
        if isinstance(value, date):
            shown: Any = day(value)
        elif value is None:
            shown = ""
        else:
            shown = value
        display = ("Yes" if value else "No") if isinstance(value, bool) else str(shown)
        out.append({"id": 100 + d.id, "name": "CF" + "".join(d.caption.split()),
                    "label": d.caption, "type": HALO_FIELD_TYPES.get(d.type, 0),
                    "value": shown, "display": display})
    return out


def _address(line1: str | None, line2: str | None, city: str | None, region: str | None,
             postcode: str | None) -> Wire:
    return {"line1": line1 or "", "line2": line2 or "", "line3": city or "",
            "line4": region or "", "postcode": postcode or ""}


def _person(c: Contact | None) -> str:
    if c is None:
        return ""
    return " ".join(p for p in (c.first_name, c.last_name) if p)


class Renderer:
    """Turns dataset records into Halo JSON; one per request, caching what it looks up."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self._main: dict[int, Site | None] = {}
        self._canonical: dict[str, TicketStatus] | None = None

    def main_site(self, company_id: int | None) -> Site | None:
        if company_id is None:
            return None
        if company_id not in self._main:
            sites = [self.ds.sites[i] for i in self.ds.children("sites", company_id)]
            self._main[company_id] = next((s for s in sites if s.primary),
                                          sites[0] if sites else None)
        return self._main[company_id]

    def primary_site_id(self, company_id: int) -> int:
        site = self.main_site(company_id)
        return site.id if site is not None and site.primary else 0

    def company_name(self, company_id: int | None) -> str:
        company = self.ds.companies.get(company_id) if company_id is not None else None
        return company.name if company else ""

    def client(self, c: Company, q: Query) -> Wire:
        status = self.ds.company_statuses.get(c.status_id) if c.status_id is not None else None
        top = next((t for t in (self.ds.company_types.get(i) for i in c.type_ids) if t), None)
        main_id = self.primary_site_id(c.id)
        main = self.ds.sites.get(main_id)
        return {
            "id": c.id, "name": c.name, "website": c.website or "",
            "inactive": bool(status and status.inactive), "colour": "",
            "toplevel_id": top.id if top else 0, "toplevel_name": top.name if top else "",
            "main_site_id": main_id, "main_site_name": main.name if main else "",
            "customertype": 0, "notes": "", "alastupdate": ts(c.updated_at), "customfields": [],
        }

    def site(self, s: Site, q: Query, *, detail: bool = False) -> Wire:
        client = self.company_name(s.company_id)
        wire: Wire = {
            "id": s.id, "name": s.name, "client_id": float(s.company_id), "client_name": client,
            "clientsite_name": f"{client}/{s.name}", "inactive": not s.active,
            "phonenumber": s.phone or "", "timezone": "", "sla_id": 1, "maincontact_id": 0,
            "slastupdate": ts(s.updated_at),
        }
        lines = (s.line1, s.line2, s.city, s.region, s.postal_code)
        if detail:
            wire["delivery_address"] = _address(*lines)
            wire["invoice_address"] = _address(*lines)
        elif q.flag("includeaddress"):
            for n, value in enumerate(lines, start=1):
                wire[f"delivery_address_line{n}"] = value or ""
        return wire

    def user(self, c: Contact, q: Query) -> Wire:
        site = self.main_site(c.company_id)
        return {
            "id": c.id, "name": _person(c), "firstname": c.first_name or "",
            "surname": c.last_name or "", "title": c.title or "",
            "emailaddress": c.email or "", "phonenumber": c.phone or "", "mobilenumber": "",
            "client_id": c.company_id or 0, "client_name": self.company_name(c.company_id),
            "site_id": float(site.id) if site else 0.0, "site_name": site.name if site else "",
            "inactive": not c.active, "isimportantcontact": c.type == IMPORTANT_TYPE,
            "ismaincontact": False,
            "primary_address": _address(c.line1, c.line2, c.city, c.region, c.postal_code),
            "ulastupdate": ts(c.updated_at),
            "customfields": _custom_fields(self.ds.contact_fields, c.custom_fields),
        }

    def asset(self, a: Asset, q: Query) -> Wire:
        site = self.main_site(a.company_id)
        wire: Wire = {
            "id": a.id, "inventory_number": a.name, "key_field": a.name,
            "key_field2": a.serial_number or "", "key_field3": "",
            "client_id": a.company_id or 0, "client_name": self.company_name(a.company_id),
            "site_id": site.id if site else 0, "site_name": site.name if site else "",
            "assettype_id": ASSET_TYPE_IDS.get(a.type or "", 0), "assettype_name": a.type or "",
            "status_id": ASSET_STATUS_IDS.get(a.status or "", 0), "status_name": a.status or "",
            "inactive": a.status in INACTIVE_ASSET_STATUSES,
            "warranty_end": day(a.warranty_expiration), "notes": a.notes or "",
            "dlastupdate": ts(a.updated_at),
            "customfields": _custom_fields(self.ds.asset_fields, a.custom_fields),
        }
        if q.flag("includeassetfields"):
            values = (a.serial_number or "", a.manufacturer or "", a.os_type or "",
                      "" if a.purchase_date is None else day(a.purchase_date))
            wire["fields"] = [{"id": fid, "name": name, "value": value, "display": value}
                              for (fid, name), value in zip(TYPE_FIELDS, values)]
        return wire

    def canonical_statuses(self) -> dict[str, TicketStatus]:
        """Halo statuses are global: the lowest-id dataset status of each name."""
        if self._canonical is None:
            self._canonical = {}
            for status in self.ds.records("ticket_statuses"):
                self._canonical.setdefault(status.name, status)
        return self._canonical

    def ticket(self, t: Ticket, q: Query, *, detail: bool = False) -> Wire:
        board = self.ds.boards.get(t.board_id) if t.board_id is not None else None
        status = self.ds.ticket_statuses.get(t.status_id) if t.status_id is not None else None
        canonical = self.canonical_statuses().get(status.name) if status else None
        contact = self.ds.contacts.get(t.contact_id) if t.contact_id is not None else None
        site = self.main_site(t.company_id)
        wire: Wire = {
            "id": t.id, "summary": t.summary, "details": "",
            "client_id": t.company_id or 0, "client_name": self.company_name(t.company_id),
            "site_id": site.id if site else 0, "site_name": site.name if site else "",
            "user_id": t.contact_id or 0, "user_name": _person(contact),
            "status_id": canonical.id if canonical else 0, "priority_id": t.priority_id or 0,
            "team": board.name if board else "", "tickettype_id": 1, "agent_id": 0,
            "sla_id": 1, "dateoccurred": ts(t.created_at), "lastactiondate": ts(t.updated_at),
            "last_update": ts(t.updated_at),
            "dateclosed": ts(t.updated_at) if t.closed else EMPTY_DATE, "inactive": False,
        }
        if detail or q.flag("includestatus"):
            wire["status_name"] = canonical.name if canonical else ""
        return wire

    def team(self, b: Board) -> Wire:
        return {"id": b.id, "name": b.name, "inactive": not b.active, "sequence": b.id,
                "department_id": 1, "department_name": "Service Desk", "forrequests": True}

    def status(self, s: TicketStatus) -> Wire:
        return {"id": s.id, "name": s.name, "shortname": s.name.lstrip(">")[:4].upper(),
                "type": 0, "sequence": s.sort_order, "colour": "#2f80ed" if not s.closed
                else "#828282"}

    def priorities(self, p: Priority) -> list[Wire]:
        return [{"id": uuid.uuid5(uuid.NAMESPACE_OID, f"halo-policy-{sla}-{p.id}").hex,
                 "priorityid": p.id, "slaid": sla, "name": p.name,
                 "colour": "#d0021b" if p.sort_order == 1 else "#f5a623", "ishidden": False,
                 "responsetime": 2.0 * p.sort_order, "fixtime": 8.0 * p.sort_order}
                for sla in SLAS]


# --- collections ---------------------------------------------------------------------------------



@dataclass(frozen=True, slots=True)
class Collection:
    """A paged Halo list over one dataset entity."""

    entity: str
    key: str
    label: str
    render: Callable[[Renderer, Any, Query], Wire]
    filters: Callable[[Renderer, Query], list[Predicate]]
    max_page_size: int = MAX_PAGE_SIZE


def _state_filter(q: Query, inactive: Callable[[Any], bool]) -> list[Predicate]:
    active_ok, inactive_ok = q.flag("includeactive", True), q.flag("includeinactive", False)
    if active_ok and inactive_ok:
        return []
    return [lambda r: inactive_ok if inactive(r) else active_ok]


def _common_filters(q: Query, *, company: str = "company_id") -> list[Predicate]:
    preds: list[Predicate] = []
    since = q.since()
    if since is not None:
        preds.append(lambda r: r.updated_at >= since)
    client_id = q.number("client_id")
    if client_id:
        preds.append(lambda r: getattr(r, company) == client_id)
    return preds


def _search(q: Query, text_of: Callable[[Any], str]) -> list[Predicate]:
    needle = q.text("search")
    if needle is None:
        return []
    folded = needle.casefold()
    return [lambda r: folded in text_of(r).casefold()]


def _client_filters(r: Renderer, q: Query) -> list[Predicate]:
    statuses = r.ds.company_statuses

    def inactive(c: Company) -> bool:
        status = statuses.get(c.status_id) if c.status_id is not None else None
        return bool(status and status.inactive)

    since = q.since()
    preds = [] if since is None else [lambda c: c.updated_at >= since]
    return preds + _state_filter(q, inactive) + _search(q, lambda c: c.name)


def _site_filters(r: Renderer, q: Query) -> list[Predicate]:
    return (_common_filters(q) + _state_filter(q, lambda s: not s.active)
            + _search(q, lambda s: s.name))


def _user_filters(r: Renderer, q: Query) -> list[Predicate]:
    preds = _common_filters(q) + _state_filter(q, lambda c: not c.active)
    site_id = q.number("site_id")
    if site_id:
        preds.append(lambda c: (s := r.main_site(c.company_id)) is not None and s.id == site_id)
    return preds + _search(q, lambda c: f"{_person(c)} {c.email or ''}")


def _asset_filters(r: Renderer, q: Query) -> list[Predicate]:
    preds = _common_filters(q) + _state_filter(q, lambda a: a.status in INACTIVE_ASSET_STATUSES)
    type_id = q.number("assettype_id")
    if type_id:
        preds.append(lambda a: ASSET_TYPE_IDS.get(a.type or "") == type_id)
    return preds + _search(q, lambda a: a.name)


def _ticket_filters(r: Renderer, q: Query) -> list[Predicate]:
    preds = _common_filters(q)
    canonical = {s.name: s.id for s in r.canonical_statuses().values()}

    def status_of(t: Ticket) -> int:
        status = r.ds.ticket_statuses.get(t.status_id) if t.status_id is not None else None
        return canonical.get(status.name, 0) if status else 0

    teams = q.ints("team")
    if teams is not None:
        preds.append(lambda t: t.board_id in teams)
    status_id = q.number("status_id")
    statuses = q.ints("status") or ({status_id} if status_id else None)
    if statuses:
        preds.append(lambda t: status_of(t) in statuses)
    priorities = q.ints("priority")
    if priorities is not None:
        preds.append(lambda t: t.priority_id in priorities)
    if q.flag("open_only"):
        preds.append(lambda t: not t.closed)
    if q.flag("closed_only"):
        preds.append(lambda t: t.closed)
    return preds + _search(q, lambda t: f"{t.id} {t.summary}")


COLLECTIONS: Final[dict[str, Collection]] = {
    "client": Collection("companies", "clients", "Client", Renderer.client, _client_filters),
    "site": Collection("sites", "sites", "Site", Renderer.site, _site_filters),
    "users": Collection("contacts", "users", "User", Renderer.user, _user_filters),
    "asset": Collection("assets", "assets", "Asset", Renderer.asset, _asset_filters),
    "tickets": Collection("tickets", "tickets", "Ticket", Renderer.ticket, _ticket_filters,
                          MAX_TICKET_PAGE_SIZE),
}


# --- handlers ----------------------------------------------------------------------------------


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
        return _json({"scope": " ".join(scopes), "token_type": "Bearer",
                      "access_token": self.state.issue(),
                      "expires_in": self.state.token_lifetime})

    async def authinfo(self, request: web.Request) -> web.Response:
        return _json({"auth_url": f"{request.scheme}://{request.host}/auth",
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
            return _json(self.lookup(name, renderer, q))
        collection = COLLECTIONS.get(name)
        if collection is None or len(parts) > 2:
            return halo_error(404, "No HTTP resource was found that matches the request URI")
        if len(parts) == 2:
            return self.one(collection, renderer, parts[1], q)
        return _json(self.listing(collection, renderer, q))

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
        return _json(self.wire(collection, renderer, record, q, **detail))

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


# --- middleware --------------------------------------------------------------------------------


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def halo_middleware(state: HaloState) -> Middleware:
    @web.middleware
    async def halo(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path.casefold()
        if not (path.startswith("/api/") or path.startswith("/auth/")):
            return await handler(request)
        wait = state.throttle()
        if wait is not None and state.rate_limit is not None:
            return halo_error(429, rate_limit_message(state.rate_limit),
                              {"Retry-After": str(max(1, math.ceil(wait)))})
        if path.startswith("/api/") and path != "/api/authinfo":
            token = _bearer(request)
            if token is None or not state.valid(token):
                return web.Response(status=401, headers={
                    "WWW-Authenticate": 'Bearer error="invalid_token"'})
        try:
            return await handler(request)
        except BadParam as err:
            return halo_error(400, str(err))
        except web.HTTPNotFound:
            return halo_error(404, "No HTTP resource was found that matches the request URI")
        except web.HTTPMethodNotAllowed:
            return halo_error(405, f"The requested resource does not support {request.method}")

    return halo


# --- app factory -------------------------------------------------------------------------------


def create_app(
    dataset: Dataset,
    *,
    client_id: str = DEMO_CLIENT_ID,
    client_secret: str = DEMO_CLIENT_SECRET,
    tenant: str | None = DEMO_TENANT,
    token_lifetime: int = TOKEN_LIFETIME,
    rate_limit: tuple[int, float] | None = None,
    faults: Faults | None = None,
) -> web.Application:
    """The Halo simulator; ``tenant=None`` behaves like an on-premise instance."""
    state = HaloState(client_id, client_secret, tenant, token_lifetime, rate_limit)
    app = simulator_app(dataset, faults, halo_error_body, halo_middleware(state))
    app[STATE_KEY] = state

    api = Api(dataset, state)
    app.router.add_post("/auth/token", api.token)
    app.router.add_route("*", "/api/{tail:.*}", api.dispatch)
    add_control_routes(app)
    return app
