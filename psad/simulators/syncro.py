"""Syncro (SyncroMSP) REST API v1 simulator over the shared :class:`Dataset`.

``create_app(dataset)`` serves ``/api/v1/…``: ``/customers`` (+ ``/{id}``),
``/contacts`` (+ ``/{id}``), ``/customer_assets`` (+ ``/{id}``), ``/tickets``
(+ ``/{id}``), ``/tickets/settings``, ``/settings`` and ``/me``, plus the
shared ``/_sim/`` control plane.

How the vendor-neutral dataset becomes Syncro (Syncro lacks several concepts):

- companies → customers. ``disabled`` is true when the company's status is
  an inactive one; the status name itself has no place on the wire. The
  website goes into the customer custom field ``Website`` (Syncro has no
  website field; a real account only has one if the MSP created it).
- sites are not rendered: Syncro has none (psad synthesizes one per customer
  from the customer's address).
- assets → customer assets. ``asset_type`` is the type name, ``asset_serial``
  the serial; the OS sits where the Syncro agent reports it
  (``properties.kabuto_information.os.name``); manufacturer, purchase date,
  warranty expiry and the dataset's custom fields are asset-type custom fields
  in ``properties`` (values as strings: ``"1"``/``"0"`` for checkboxes, ISO
  dates). Asset status and notes have no Syncro field and are not rendered.
- contacts → contacts with a single ``name``; the title is
  ``properties.title``; contact type and the active flag do not exist.
- boards → ticket problem types, priorities → the priority strings, ticket
  statuses → the account's global status list (names only, no ids).

Confirmed with public sources (see ``shared/psa-apis.md`` §3):

- Paths, envelopes and examples from the vendor spec (advenimus/syncromsp-mcp
  ``docs/swagger.json``): list envelopes ``{"customers"|"contacts"|"assets"|
  "tickets": [...], "meta": {...}}``; customers/contacts meta carry
  ``total_pages, total_entries, per_page, page``, tickets only
  ``total_pages, page``; ``GET /customers/{id}`` → ``{"customer"}``,
  ``GET /tickets/{id}`` → ``{"ticket"}``, ``GET /contacts/{id}`` a bare object;
  ``include_disabled`` ("whether the returned list includes disabled
  customers", default false); ticket filters ``customer_id``, ``contact_id``,
  ``number``, ``status`` (incl. ``Not Closed``), ``query``, ``user_id``,
  ``created_after``, ``resolved_after``, ``since_updated_at`` — no
  problem-type or priority filter; ``/settings`` → ``ticket.problem_types``,
  ``ticket.priorities`` (``""`` first); ``/tickets/settings`` →
  ``ticket_status_list``; 401 body ``{"error": "Not authorized. Please ask
  account admin to update your group permissions."}``, 404 ``{"message":
  "Not found"}``; "a rate limit of 180 requests per minute per IP address".
- Auth: ``Authorization: Bearer <token>`` (advenimus api-client, several
  scripts) and ``?api_key=<token>`` (n8n's SyncroMSP node,
  msp4msps/SyncroAPI). The spec's scheme is an apiKey in the
  ``Authorization`` header, so a bare token there is accepted too.
- ``GET /customer_assets/{id}`` → ``{"asset": {...}}`` (a client reads
  ``.get("asset")``); a live test saw 50 tickets and 50 assets per page and
  100 customers per page in the spec example, 25 elsewhere; there is no
  ``per_page`` parameter on these lists; n8n pages until an empty page, so a
  page past the end answers an empty list.

Inferred: the 429 is a Rack::Attack-style fixed-window throttle per IP that
counts throttled requests too and answers ``Retry later`` with
``Retry-After`` (seconds to the next window); a bad or missing token gets
the same 401 body as a missing permission; lists come in id order (tickets
newest first); unparseable id filters match nothing and unparseable date
filters get a 422; timestamps are UTC with milliseconds and ``Z``; ``query``
searches the obvious text columns.
"""

from __future__ import annotations

import functools
import hmac
import json
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final, NamedTuple

from aiohttp import web
from aiohttp.typedefs import Middleware

from psad.simulators import (
    add_control_routes,
    apply_overrides,
    simulator_app,
)
from psad.simulators.dataset import (
    ASSET_TYPES,
    Asset,
    Company,
    Contact,
    CustomValue,
    Dataset,
    Ticket,
)
from psad.simulators.faults import Faults

API_PATH: Final = "/api/v1/"
API_PREFIX: Final = "/api/v1"
DEFAULT_API_KEY: Final = "T1d2e3m4o-psad-syncro-0123456789abcdef"
WEBSITE_FIELD: Final = "Website"
SIMULATOR_SETTINGS: Final[dict[str, str]] = {"website_field": WEBSITE_FIELD}
SIMULATOR_SECRETS: Final[dict[str, str]] = {"api_key": DEFAULT_API_KEY}

RATE_LIMIT: Final = 180
RATE_WINDOW: Final = 60.0
PAGE_SIZES: Final[Mapping[str, int]] = {
    "customers": 100, "contacts": 50, "customer_assets": 50, "tickets": 50}
CLOSED_STATUSES: Final = frozenset({"Resolved", "Invoiced"})
NOT_AUTHORIZED: Final = ("Not authorized. Please ask account admin to update your group "
                         "permissions.")
MANUFACTURER_FIELD: Final = "Manufacturer"
PURCHASE_FIELD: Final = "Purchase Date"
WARRANTY_FIELD: Final = "Warranty Expiration"
ACCOUNT_ID: Final = 1
_TRUE: Final = frozenset({"true", "1", "t", "yes", "on"})
_dumps: Final = functools.partial(json.dumps, separators=(",", ":"), check_circular=False)

Wire = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- errors -----------------------------------------------------------------------------


def syncro_error_body(status: int, message: str) -> dict[str, Any]:
    """A Syncro-shaped error body (also used for injected faults)."""
    if status in (401, 403):
        return {"error": NOT_AUTHORIZED}
    if status == 404:
        return {"message": "Not found"}
    if status == 422:
        return {"errors": [message]}
    return {"status": status, "error": message}


def _json(body: Any, *, status: int = 200,
          headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def _error(status: int, message: str = "") -> web.Response:
    return _json(syncro_error_body(status, message), status=status)


# --- rendering --------------------------------------------------------------------------


def ts(value: datetime) -> str:
    """``2019-10-21T08:33:21.053Z``, as in the vendor's examples."""
    moment = value.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def custom_text(value: CustomValue) -> str | None:
    """A custom field value as Syncro stores it: text, checkboxes as ``"1"``/``"0"``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def full_name(contact: Contact) -> str:
    return " ".join(p for p in (contact.first_name, contact.last_name) if p)


ASSET_TYPE_IDS: Final = {name: n for n, name in enumerate(dict.fromkeys(ASSET_TYPES), start=1)}


class Renderer:
    """Renders dataset records for one request; caches what several records share."""

    def __init__(self, ds: Dataset, root: str) -> None:
        self.ds = ds
        self.root = root
        self._customers: dict[int, Wire] = {}
        self._contacts_by_company: dict[int, list[int]] | None = None

    def finish(self, entity: str, record_id: int, wire: Wire) -> Wire:
        overrides = self.ds.overrides(entity, record_id)
        return apply_overrides(wire, overrides) if overrides else wire

    def disabled(self, c: Company) -> bool:
        status = self.ds.company_statuses.get(c.status_id) if c.status_id is not None else None
        return bool(status is not None and status.inactive)

    def customer_core(self, c: Company) -> Wire:
        cached = self._customers.get(c.id)
        if cached is not None:
            return cached
        properties = {} if c.website is None else {WEBSITE_FIELD: c.website}
        wire: Wire = {
            "id": c.id, "firstname": None, "lastname": None, "fullname": None,
            "business_name": c.name, "email": None, "phone": c.phone, "mobile": None,
            "created_at": ts(c.created_at), "updated_at": ts(c.updated_at), "pdf_url": None,
            "address": c.line1, "address_2": c.line2, "city": c.city, "state": c.region,
            "zip": c.postal_code, "latitude": None, "longitude": None, "notes": None,
            "get_sms": False, "opt_out": False, "disabled": self.disabled(c), "no_email": False,
            "location_name": None, "location_id": None, "properties": properties,
            "online_profile_url": f"{self.root}/my_profile/v2/index?portal_key=psad{c.id:08d}",
            "tax_rate_id": None, "notification_email": None, "invoice_cc_emails": None,
            "invoice_term_id": None, "referred_by": None, "ref_customer_id": None,
            "business_and_full_name": c.name, "business_then_name": c.name,
        }
        self._customers[c.id] = wire
        return wire

    def customer(self, c: Company) -> Wire:
        contacts = [self.contact(self.ds.contacts[i]) for i in self.contact_ids(c.id)]
        return self.finish("companies", c.id, {**self.customer_core(c), "contacts": contacts})

    def contact_ids(self, company_id: int) -> list[int]:
        if self._contacts_by_company is None:
            index: dict[int, list[int]] = {}
            for contact_id in self.ds.ids("contacts"):
                owner = self.ds.contacts[contact_id].company_id
                if owner is not None:
                    index.setdefault(owner, []).append(contact_id)
            self._contacts_by_company = index
        return self._contacts_by_company.get(company_id, [])

    def contact(self, c: Contact) -> Wire:
        properties: Wire = {} if c.title is None else {"title": c.title}
        captions = (d.caption for d in self.ds.contact_fields)
        properties.update(_custom_properties(captions, c.custom_fields))
        return self.finish("contacts", c.id, {
            "id": c.id, "name": full_name(c), "address1": c.line1, "address2": c.line2,
            "city": c.city, "state": c.region, "zip": c.postal_code, "email": c.email,
            "phone": c.phone, "mobile": None, "latitude": None, "longitude": None,
            "customer_id": c.company_id, "account_id": ACCOUNT_ID, "notes": None,
            "created_at": ts(c.created_at), "updated_at": ts(c.updated_at), "vendor_id": None,
            "properties": properties, "opt_out": False, "extension": None,
        })

    def asset(self, a: Asset) -> Wire:
        properties: Wire = {}
        if a.manufacturer is not None:
            properties[MANUFACTURER_FIELD] = a.manufacturer
        if a.purchase_date is not None:
            properties[PURCHASE_FIELD] = a.purchase_date.isoformat()
        if a.warranty_expiration is not None:
            properties[WARRANTY_FIELD] = a.warranty_expiration.isoformat()
        captions = (d.caption for d in self.ds.asset_fields)
        properties.update(_custom_properties(captions, a.custom_fields))
        if a.os_type is not None:
            properties["kabuto_information"] = {
                "os": {"name": a.os_type, "os_architecture": "64-bit"},
                "general": {"name": a.name, "form_factor": a.type},
                "last_synced_at": ts(a.updated_at)}
        company = self.ds.companies.get(a.company_id) if a.company_id is not None else None
        return self.finish("assets", a.id, {
            "id": a.id, "name": a.name, "customer_id": a.company_id, "contact_id": None,
            "created_at": ts(a.created_at), "updated_at": ts(a.updated_at),
            "properties": properties, "asset_type": a.type, "asset_serial": a.serial_number,
            "external_rmm_link": None,
            "customer": None if company is None else self.customer_core(company),
            "rmm_links": [], "rmm_store": None, "address": None,
        })

    def ticket(self, t: Ticket, *, detail: bool = False) -> Wire:
        ds = self.ds
        status = ds.ticket_statuses.get(t.status_id) if t.status_id is not None else None
        board = ds.boards.get(t.board_id) if t.board_id is not None else None
        priority = ds.priorities.get(t.priority_id) if t.priority_id is not None else None
        contact = ds.contacts.get(t.contact_id) if t.contact_id is not None else None
        company = ds.companies.get(t.company_id) if t.company_id is not None else None
        status_name = status.name if status else "New"
        wire: Wire = {
            "id": t.id, "number": ticket_number(t.id), "subject": t.summary,
            "created_at": ts(t.created_at), "customer_id": t.company_id,
            "customer_business_then_name": company.name if company else None,
            "due_date": None,
            "resolved_at": ts(t.updated_at) if status_name in CLOSED_STATUSES else None,
            "start_at": None, "end_at": None, "location_id": None, "location_name": None,
            "problem_type": board.name if board else None, "status": status_name,
            "ticket_type_id": None, "ticket_type_name": None, "properties": {},
            "user_id": None, "updated_at": ts(t.updated_at), "pdf_url": None,
            "priority": priority.name if priority else None, "billing_status": None,
            "tag_list": [], "sla_name": None, "creator_name_or_email": None,
            "contact_fullname": full_name(contact) if contact else None,
            "contract_name": None, "address_id": None, "parent": False, "parent_id": None,
            "child": False, "recurring": False, "customer_reply": False,
            "total_formatted_billable_time": None, "contact_id": t.contact_id,
            "sla_breached": False, "sla_breaching_soon": False, "contract_id": None,
            "sla_id": None, "customer_tag_list": [], "resolution_time": None,
            "response_time": None, "customer_icons": [], "comments": [], "user": None,
        }
        if detail:
            wire.update({
                "asset_ids": [], "attachments": [], "ticket_timers": [], "line_items": [],
                "worksheet_results": [], "assets": [], "appointments": [],
                "ticket_fields": [], "ticket_answers": [],
                "customer": None if company is None else self.customer_core(company),
                "contact": None if contact is None else self.contact(contact),
                "ticket_type": None, "address": None,
            })
        return self.finish("tickets", t.id, wire)


def ticket_number(ticket_id: int) -> int:
    return 1000 + ticket_id


def _custom_properties(captions: Iterable[str], values: Mapping[str, CustomValue]) -> Wire:
    out: Wire = {}
    for caption in captions:
        text = custom_text(values.get(caption))
        if text is not None:
            out[caption] = text
    return out


def status_names(ds: Dataset) -> list[str]:
    """The account's ticket statuses: one global list of names, first use first."""
    return list(dict.fromkeys(s.name for s in ds.records("ticket_statuses")))


def priority_names(ds: Dataset) -> list[str]:
    return ["", *(p.name for p in sorted(ds.records("priorities"), key=lambda p: p.sort_order))]


# --- query handling ---------------------------------------------------------------------


def _page(request: web.Request) -> int:
    try:
        return max(int(request.query.get("page", "1")), 1)
    except ValueError:
        return 1


def _int(raw: str | None) -> int | None:
    """A Rails-style integer filter; unparseable input matches nothing (-1)."""
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        return -1


def _ints(request: web.Request, name: str) -> set[int]:
    values = request.query.getall(f"{name}[]", []) + request.query.getall(name, [])
    return {v for raw in values for part in raw.split(",") if (v := _int(part.strip())) is not None}


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").strip().lower() in _TRUE


def _moment(raw: str | None, name: str) -> datetime | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParam(f"{name} is not a valid date") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class InvalidParam(Exception):
    """A filter value Syncro would refuse; becomes a 422."""


class Window(NamedTuple):
    ids: Sequence[int]
    page: int
    total: int
    per_page: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.per_page)

    def page_ids(self) -> Sequence[int]:
        start = (self.page - 1) * self.per_page
        return self.ids[start:start + self.per_page]

    def meta(self, *, short: bool = False) -> Wire:
        if short:
            return {"total_pages": self.total_pages, "page": self.page}
        return {"total_pages": self.total_pages, "total_entries": self.total,
                "per_page": self.per_page, "page": self.page}


def _contains(needle: str, *haystack: str | None) -> bool:
    folded = needle.casefold()
    return any(h is not None and folded in h.casefold() for h in haystack)


# --- the per-IP throttle ----------------------------------------------------------------


class Served(NamedTuple):
    at: float
    ip: str
    path_qs: str
    throttled: bool
    retry_after: int | None


@dataclass
class RateLimit:
    """Syncro's per-IP request limit: ``limit`` requests per fixed ``window`` seconds."""

    limit: int = RATE_LIMIT
    window: float = RATE_WINDOW
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    history: deque[Served] = field(default_factory=lambda: deque(maxlen=10_000))

    def check(self, ip: str, path_qs: str, now: float | None = None) -> int | None:
        """Seconds the caller must wait (as sent in ``Retry-After``), or None to serve."""
        now = time.time() if now is None else now
        period = int(now // self.window)
        seen_period, count = self.counts.get(ip, (period, 0))
        count = (count if seen_period == period else 0) + 1
        self.counts[ip] = (period, count)
        wait = None if count <= self.limit else max(1, math.ceil((period + 1) * self.window - now))
        self.history.append(Served(now, ip, path_qs, wait is not None, wait))
        return wait

    @property
    def throttled(self) -> list[Served]:
        return [s for s in self.history if s.throttled]


@dataclass(frozen=True, slots=True)
class SyncroConfig:
    api_key: str
    page_sizes: Mapping[str, int]


CONFIG_KEY = web.AppKey("psad.simulators.syncro.config", SyncroConfig)
RATE_LIMIT_KEY = web.AppKey("psad.simulators.syncro.rate_limit", RateLimit)


def presented_token(request: web.Request) -> str:
    """The API token a request carries: ``?api_key=`` first, then ``Authorization``."""
    token = request.query.get("api_key")
    if token is not None:
        return token.strip()
    header = request.headers.get("Authorization", "").strip()
    scheme, _, rest = header.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else header


def api_middleware(config: SyncroConfig, limit: RateLimit) -> Middleware:
    @web.middleware
    async def syncro(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        wait = limit.check(request.remote or "unknown", request.path_qs)
        if wait is not None:
            return web.Response(status=429, text="Retry later\n",
                                headers={"Retry-After": str(wait)})
        if not hmac.compare_digest(presented_token(request).encode(), config.api_key.encode()):
            return _error(401)
        try:
            return await handler(request)
        except InvalidParam as err:
            return _error(422, str(err))
        except web.HTTPNotFound:
            return _error(404)
        except web.HTTPMethodNotAllowed:
            return _error(404)

    return syncro


# --- handlers ---------------------------------------------------------------------------


class Api:
    def __init__(self, ds: Dataset, config: SyncroConfig) -> None:
        self.ds = ds
        self.config = config

    def renderer(self, request: web.Request) -> Renderer:
        return Renderer(self.ds, f"{request.scheme}://{request.host}")

    def window(self, request: web.Request, resource: str, ids: Sequence[int]) -> Window:
        return Window(ids, _page(request), len(ids), self.config.page_sizes[resource])

    # customers

    def customer_ids(self, request: web.Request) -> Sequence[int]:
        ds = self.ds
        render = self.renderer(request)
        wanted, unwanted = _ints(request, "id"), _ints(request, "not_id")
        query = request.query.get("query") or None
        business = request.query.get("business_name") or None
        include_disabled = _flag(request, "include_disabled")
        if not (wanted or unwanted or query or business) and include_disabled:
            return ds.ids("companies")
        out = []
        for company_id in ds.ids("companies"):
            c = ds.companies[company_id]
            if ((not include_disabled and render.disabled(c))
                    or (wanted and company_id not in wanted) or company_id in unwanted
                    or (query and not _contains(query, c.name, c.phone, c.city))
                    or (business and not _contains(business, c.name))):
                continue
            out.append(company_id)
        return out

    async def customers(self, request: web.Request) -> web.Response:
        window = self.window(request, "customers", self.customer_ids(request))
        render = self.renderer(request)
        items = [render.customer(self.ds.companies[i]) for i in window.page_ids()]
        return _json({"customers": items, "meta": window.meta()})

    async def customer(self, request: web.Request) -> web.Response:
        company = self.ds.companies.get(int(request.match_info["id"]))
        if company is None:
            return _error(404)
        return _json({"customer": self.renderer(request).customer(company)})

    # contacts

    async def contacts(self, request: web.Request) -> web.Response:
        ids: Sequence[int] = self.ds.ids("contacts")
        customer_id = _int(request.query.get("customer_id"))
        if customer_id is not None:
            ids = [i for i in ids if self.ds.contacts[i].company_id == customer_id]
        window = self.window(request, "contacts", ids)
        render = self.renderer(request)
        items = [render.contact(self.ds.contacts[i]) for i in window.page_ids()]
        return _json({"contacts": items, "meta": window.meta()})

    async def contact(self, request: web.Request) -> web.Response:
        contact = self.ds.contacts.get(int(request.match_info["id"]))
        if contact is None:
            return _error(404)
        return _json(self.renderer(request).contact(contact))

    # assets

    async def assets(self, request: web.Request) -> web.Response:
        ids: Sequence[int] = self.ds.ids("assets")
        customer_id = _int(request.query.get("customer_id"))
        type_id = _int(request.query.get("asset_type_id"))
        query = request.query.get("query") or None
        if customer_id is not None or type_id is not None or query:
            table = self.ds.assets
            ids = [i for i in ids
                   if (customer_id is None or table[i].company_id == customer_id)
                   and (type_id is None or ASSET_TYPE_IDS.get(table[i].type or "") == type_id)
                   and (not query or _contains(query, table[i].name, table[i].serial_number))]
        window = self.window(request, "customer_assets", ids)
        render = self.renderer(request)
        items = [render.asset(self.ds.assets[i]) for i in window.page_ids()]
        return _json({"assets": items, "meta": window.meta()})

    async def asset(self, request: web.Request) -> web.Response:
        asset = self.ds.assets.get(int(request.match_info["id"]))
        if asset is None:
            return _error(404)
        return _json({"asset": self.renderer(request).asset(asset)})

    # tickets

    def ticket_matcher(self, request: web.Request) -> Callable[[Ticket], bool] | None:
        q = request.query
        ds = self.ds
        customer_id, contact_id = _int(q.get("customer_id")), _int(q.get("contact_id"))
        number, user_id = _int(q.get("number")), _int(q.get("user_id"))
        status = q.get("status") or None
        text = q.get("query") or None
        since = _moment(q.get("since_updated_at"), "since_updated_at")
        created_after = _moment(q.get("created_after"), "created_after")
        resolved_after = _moment(q.get("resolved_after"), "resolved_after")
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
                if not (_contains(text, t.summary, company.name if company else None)
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
        return _json({"tickets": items, "meta": window.meta(short=True)})

    async def ticket(self, request: web.Request) -> web.Response:
        ticket = self.ds.tickets.get(int(request.match_info["id"]))
        if ticket is None:
            return _error(404)
        return _json({"ticket": self.renderer(request).ticket(ticket, detail=True)})

    # settings

    async def ticket_settings(self, request: web.Request) -> web.Response:
        return _json({
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
        return _json({
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
        return _json({"user_id": 1, "user_name": "psad Simulator", "user_email": "sim@psad.invalid",
                      "admin": True, "subdomain": "psad-demo", "permissions": {}})


# --- app factory ------------------------------------------------------------------------


def create_app(
    dataset: Dataset,
    *,
    api_key: str = DEFAULT_API_KEY,
    faults: Faults | None = None,
    rate_limit: int = RATE_LIMIT,
    rate_window: float = RATE_WINDOW,
    page_sizes: Mapping[str, int] | None = None,
) -> web.Application:
    """A Syncro API v1 over ``dataset``; ``page_sizes`` overrides per-list page sizes."""
    config = SyncroConfig(api_key, {**PAGE_SIZES, **(page_sizes or {})})
    limit = RateLimit(rate_limit, rate_window)
    app = simulator_app(dataset, faults, syncro_error_body, api_middleware(config, limit))
    app[CONFIG_KEY] = config
    app[RATE_LIMIT_KEY] = limit

    api = Api(dataset, config)
    p = API_PREFIX
    app.router.add_get(p + "/customers", api.customers)
    app.router.add_get(p + r"/customers/{id:\d+}", api.customer)
    app.router.add_get(p + "/contacts", api.contacts)
    app.router.add_get(p + r"/contacts/{id:\d+}", api.contact)
    app.router.add_get(p + "/customer_assets", api.assets)
    app.router.add_get(p + r"/customer_assets/{id:\d+}", api.asset)
    app.router.add_get(p + "/tickets", api.tickets)
    app.router.add_get(p + "/tickets/settings", api.ticket_settings)
    app.router.add_get(p + r"/tickets/{id:\d+}", api.ticket)
    app.router.add_get(p + "/settings", api.settings)
    app.router.add_get(p + "/me", api.me)
    add_control_routes(app)
    return app
