"""Syncro (SyncroMSP) REST API v1.

Wire facts this module relies on, confirmed in public sources (the vendor
spec in advenimus/syncromsp-mcp ``docs/swagger.json`` unless noted; see
``shared/psa-apis.md`` §3):

- Base ``https://{subdomain}.syncromsp.com/api/v1/``; the API token goes in
  ``Authorization: Bearer <token>`` (advenimus api-client and other clients;
  ``?api_key=`` also works — n8n, msp4msps/SyncroAPI — but would put the
  secret in URLs and logs). Tokens do not expire, so a 401 is final.
- "a rate limit of 180 requests per minute per IP address" (spec intro).
- Lists page with ``page`` (1-based) and say where they end in
  ``meta.total_pages``; the page size is the server's (25, 50 or 100 by
  endpoint; there is no ``per_page``), so psad never assumes one. Once
  page 1 has told ``total_pages``, the rest are read several at a time
  (:mod:`psad.connectors.paging`).
- Envelopes: ``{"customers": […], "meta"}``, ``{"contacts": […]}``,
  ``/customer_assets`` → ``{"assets": […]}``, ``{"tickets": […]}``;
  ``GET /tickets/{id}`` → ``{"ticket": {…}}`` (also seen in a third-party
  client's live-use notes). 404 answers ``{"message": "Not found"}``.
- Disabled customers are left out unless ``include_disabled=true``.
- Only tickets (and invoices) take a changed-since filter,
  ``since_updated_at``; customers, contacts and assets have none and no
  id-only field selection.
- Ticket list filters: ``customer_id``, ``status`` (a name), ``query``
  (search); there is no problem-type or priority filter.
- Set-up data has no ids: ``GET /settings`` → ``ticket.problem_types`` and
  ``ticket.priorities`` (``""`` first), ``GET /tickets/settings`` →
  ``ticket_status_list``.
- Customer: ``business_name`` (null for individuals; ``business_then_name``
  falls back to the person), ``address``/``address_2``/``city``/``state``/
  ``zip``, ``disabled``, ``properties`` (custom fields by name).
  Contact: one ``name``, ``email``, ``phone``/``mobile``, ``address1``/
  ``address2``/``city``/``state``/``zip``, ``properties``; a title written
  through the API is stored as ``properties.title`` (live CRUD test in
  advenimus ``docs/api-testing-results.md``). Asset: ``name``,
  ``customer_id``, ``asset_type`` (a name), ``asset_serial``,
  ``properties``; agent-managed assets carry the OS in
  ``properties.kabuto_information.os.name`` (several independent scripts).

How Syncro's gaps are mapped (one line each, for the README):

- Company status: Syncro has only ``disabled``; two synthetic statuses,
  ``Active`` (the default) and ``Disabled``.
- Company website: no such field; read from the customer custom field named
  by the ``website_field`` setting, else empty. Company types: none.
- Sites: none; one synthesized primary site per customer (id = customer id,
  name ``Main``, the customer's address, active unless the customer is
  disabled). Syncro has no country on addresses.
- Asset status and notes: none (empty). Purchase date, warranty expiry and
  manufacturer: asset-type custom fields found by common names (below); the
  OS from the agent's report, else such a custom field.
- Contact: the name is split at its first space into first and last name;
  no contact type or active flag (every contact is active).
- Boards are the ticket problem types (always active); ticket statuses are
  one global list (no board), closed = ``Resolved`` or ``Invoiced``.
  Boards, priorities and statuses have no ids: their psa id is the name,
  reversibly encoded to letters, digits, ``_`` and ``-XX`` (see
  :func:`name_id`).
- Incremental: none for synced entities, so every entity is fetched in full
  each run; a full fetch doubles as the deletion sweep, which is cheaper than
  a changed-since pass plus a full id listing (Syncro cannot list ids alone).

Inferred (unconfirmed), with the tolerance built in:

- The 429's ``Retry-After`` header: honoured by :class:`psad.http.PsaClient`
  when present. Because a missing header would leave only short back-offs,
  the connector also paces itself to the published limit (a sliding window
  per Syncro host, shared by every Syncro integration of the process;
  ``requests_per_minute`` lowers it when other tools share the IP).
- Custom field values come as text (checkboxes ``"1"``/``"0"``); psad stores
  them as sent, with ``""`` as empty. Dates in custom fields are read as
  ISO ``YYYY-MM-DD`` or US ``MM/DD/YYYY``; anything else is left empty.
- Page order may shift while records change mid-run; ids seen twice in one
  pass are skipped, and the engine's delete-share guard covers a skipped one.
- The ticket UI link is ``https://{subdomain}.syncromsp.com/tickets/{id}``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from psad.connectors import wire
from psad.connectors.base import Connector, Page, Setting, translate_tickets, translated
from psad.connectors.paging import NumberedListing, NumberedPage
from psad.connectors.wire import BadRecord
from psad.errors import ConfigError, PsaBadResponse, PsaInvalidId
from psad.model import (
    Address,
    Asset,
    Board,
    Company,
    CompanyStatus,
    Contact,
    Entity,
    Priority,
    Record,
    Rejected,
    Site,
    Ticket,
    TicketPage,
    TicketQuery,
    TicketStatus,
)
from psad.progress import note_custom_fields, report_total

log = logging.getLogger("psad.connectors.syncro")

REQUESTS_PER_MINUTE: Final = 180
ACTIVE, DISABLED = "Active", "Disabled"
CLOSED_STATUSES: Final = frozenset({"Resolved", "Invoiced"})
SITE_NAME: Final = "Main"
MAX_SCAN_PAGES: Final = 20
"""Upstream ticket pages one live list may read when filtering client-side."""

OS_FIELDS: Final = ("Operating System", "OS", "os_name")
MANUFACTURER_FIELDS: Final = ("Manufacturer", "Make")
PURCHASE_FIELDS: Final = ("Purchase Date", "Purchased", "Date Purchased", "purchase_date")
WARRANTY_FIELDS: Final = ("Warranty Expiration", "Warranty Expires", "Warranty Expiry",
                          "Warranty End", "warranty_end_date")

_LISTS: Final[dict[Entity, tuple[str, str]]] = {
    Entity.COMPANY: ("customers", "customers"),
    Entity.SITE: ("customers", "customers"),
    Entity.ASSET: ("customer_assets", "assets"),
    Entity.CONTACT: ("contacts", "contacts"),
}
_CUSTOMER_PARAMS: Final = {"include_disabled": "true"}
_US_DATE: Final = re.compile(r"^(\d{1,2})[/-](\d{1,2})[/-](\d{4})$")
_COMPANY_STATUSES: Final = (CompanyStatus(psa_id="active", name=ACTIVE, is_default=True),
                            CompanyStatus(psa_id="disabled", name=DISABLED, is_default=False))


# --- ids for names --------------------------------------------------------------------


def name_id(name: str) -> str:
    """A psa id for an id-less Syncro name: letters and digits kept, ``_`` for a
    space, ``-XX`` for every other UTF-8 byte (so web-safe and reversible)."""
    out: list[str] = []
    for ch in name:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ch == " ":
            out.append("_")
        else:
            out.extend(f"-{b:02X}" for b in ch.encode())
    return "".join(out)


def id_name(psa_id: str) -> str:
    """The name behind :func:`name_id`; PsaInvalidId when ``psa_id`` is not one."""
    raw = bytearray()
    i = 0
    while i < len(psa_id):
        ch = psa_id[i]
        if ch == "-":
            pair = psa_id[i + 1:i + 3]
            if len(pair) != 2 or not all(c in "0123456789ABCDEF" for c in pair):
                raise PsaInvalidId(f"{psa_id!r} is not a Syncro name id")
            raw.append(int(pair, 16))
            i += 3
            continue
        if ch == "_":
            raw.append(0x20)
        elif ch.isascii() and ch.isalnum():
            raw.append(ord(ch))
        else:
            raise PsaInvalidId(f"{psa_id!r} is not a Syncro name id")
        i += 1
    try:
        name = raw.decode()
    except UnicodeDecodeError:
        raise PsaInvalidId(f"{psa_id!r} is not a Syncro name id") from None
    if not name.strip() or name_id(name) != psa_id:
        raise PsaInvalidId(f"{psa_id!r} is not a Syncro name id")
    return name


# --- pacing -----------------------------------------------------------------------------


class RequestBudget:
    """At most ``limit`` request starts in any ``window`` seconds.

    A sliding window never exceeds the limit inside any fixed window either,
    whichever way the vendor counts.
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._starts and now - self._starts[0] >= self.window:
                    self._starts.popleft()
                if len(self._starts) < self.limit:
                    self._starts.append(now)
                    return
                await asyncio.sleep(self._starts[0] + self.window - now)


_BUDGETS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                    dict[tuple[str, int], RequestBudget]] = (
    weakref.WeakKeyDictionary())


def shared_budget(host: str, limit: int) -> RequestBudget:
    """The process-wide budget for ``host`` (Syncro counts per caller IP)."""
    per_loop = _BUDGETS.setdefault(asyncio.get_running_loop(), {})
    budget = per_loop.get((host, limit))
    if budget is None:
        budget = per_loop[(host, limit)] = RequestBudget(limit)
    return budget


# --- auth -------------------------------------------------------------------------------


class _TokenAuth:
    def __init__(self, token: str) -> None:
        self._headers = {"Authorization": f"Bearer {token}"}

    async def headers(self) -> Mapping[str, str]:
        return self._headers

    async def refresh(self) -> bool:
        return False


# --- the connector ----------------------------------------------------------------------


class SyncroConnector(Connector):
    kind = "syncro"
    settings = (
        Setting("api_key", "API token (Syncro: your profile → API Tokens; needs Customers, "
                           "Assets and Tickets list/view rights)", secret=True),
        Setting("website_field", "name of the customer custom field that holds the website "
                                 "(Syncro has no website field)", required=False),
        Setting("requests_per_minute", f"requests per minute psad may send to Syncro from "
                                       f"this IP (default {REQUESTS_PER_MINUTE}, Syncro's "
                                       f"per-IP limit)", required=False, type=int,
                minimum=1, maximum=1_000_000),
    )
    incremental = frozenset[Entity]()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.auth = _TokenAuth(self.secrets["api_key"])
        self.website_field = self.integration.settings.get("website_field") or None
        self.requests_per_minute = _positive_int(
            self.integration.settings.get("requests_per_minute"), REQUESTS_PER_MINUTE,
            f"integrations.{self.name}.requests_per_minute")
        self._budget: RequestBudget | None = None
        self._ticket_page_size: int | None = None

    # -- transport -----------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.integration.base_url + path

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        if self._budget is None:
            host = urlsplit(self.integration.base_url).netloc
            self._budget = shared_budget(host, self.requests_per_minute)
        await self._budget.acquire()
        response = await self.client.get(self._url(path), params=params, auth=self.auth)
        return response.body

    def _envelope(self, path: str, body: Any, key: str) -> tuple[list[Any], int | None]:
        """The items under ``key`` and ``meta.total_pages`` (None when not given)."""
        if not isinstance(body, dict) or not isinstance(body.get(key), list):
            raise PsaBadResponse(f"GET {path}: expected an object with a {key!r} list",
                                 integration=self.name)
        meta = body.get("meta")
        total = meta.get("total_pages") if isinstance(meta, dict) else None
        return body[key], total if isinstance(total, int) and not isinstance(total, bool) else None

    async def _pages(self, path: str, key: str, params: Mapping[str, Any] | None = None,
                     *, first: int = 1) -> AsyncIterator[tuple[int, list[Any], int | None]]:
        """``(page, items, total_pages)`` from ``first`` until ``meta.total_pages``
        (or, where meta is missing, until an empty page)."""
        page = first
        while True:
            body = await self._get(path, {**(params or {}), "page": page})
            items, total_pages = self._envelope(path, body, key)
            if items:
                yield page, items, total_pages
            if not items or (total_pages is not None and page >= total_pages):
                return
            page += 1

    def _listing(self, entity: Entity) -> NumberedListing:
        """Every upstream item of a listed entity, pages read several at a time, each id
        once; ``meta.total_entries`` (else ``total_pages``) tells whether it held still."""
        path, key = _LISTS[entity]
        params = _CUSTOMER_PARAMS if path == "customers" else {}

        async def read(number: int) -> NumberedPage:
            body = await self._get(path, {**params, "page": number})
            items, total_pages = self._envelope(path, body, key)
            meta = body.get("meta")
            entries = meta.get("total_entries") if isinstance(meta, dict) else None
            counted = isinstance(entries, int) and not isinstance(entries, bool)
            size = entries if counted else total_pages
            if counted:
                report_total(entries)
            elif number == 1 and total_pages is not None:
                report_total(total_pages * len(items))  # at most this many: pages are full
            return NumberedPage(items, size, total_pages)

        return NumberedListing(read, ahead=self.integration.max_concurrency)

    async def _settings(self, path: str) -> Mapping[str, Any]:
        body = await self._get(path)
        if not isinstance(body, dict):
            raise PsaBadResponse(f"GET {path}: expected a JSON object", integration=self.name)
        return body

    # -- sync ----------------------------------------------------------------------------

    async def fetch(self, entity: Entity, *, since: datetime | None = None) -> AsyncIterator[Page]:
        if entity is Entity.COMPANY_STATUS:
            yield Page(_COMPANY_STATUSES)
            return
        if entity in _LISTS:
            parse = self._parsers()[entity]
            listing = self._listing(entity)
            async for items in listing:
                yield await translated(entity, items, parse)
            if not listing.stable:
                yield Page([], listing_changed=True)
            return
        yield await self._setup_page(entity)

    async def list_ids(self, entity: Entity) -> AsyncIterator[Sequence[str]]:
        """Syncro has no id-only listing: the same pages as a fetch, ids kept."""
        if entity in _LISTS:
            async for items in self._listing(entity):
                yield [str(i["id"]) for i in items if isinstance(i, dict) and "id" in i]
            return
        async for page in self.fetch(entity):
            yield [r.psa_id for r in page.records] + [r.psa_id for r in page.rejected if r.psa_id]

    def _parsers(self) -> dict[Entity, Callable[[Mapping[str, Any]], Record]]:
        cfg = self.integration
        return {
            Entity.COMPANY: lambda d: _company(d, self.website_field),
            Entity.SITE: _site,
            Entity.ASSET: lambda d: _asset(d, cfg.asset_custom_fields),
            Entity.CONTACT: lambda d: _contact(d, cfg.contact_custom_fields),
        }

    async def _setup_page(self, entity: Entity) -> Page:
        """Boards, priorities or ticket statuses: one settings call, names only."""
        if entity is Entity.TICKET_STATUS:
            body = await self._settings("tickets/settings")
            names = _name_list(body, "ticket_status_list", "tickets/settings", self.name)
            return _named(entity, names, lambda name, n: TicketStatus(
                psa_id=name_id(name), name=name, closed=name in CLOSED_STATUSES, sort_order=n))
        body = await self._settings("settings")
        ticket = body.get("ticket")
        if not isinstance(ticket, dict):
            raise PsaBadResponse("GET settings: no 'ticket' settings", integration=self.name)
        if entity is Entity.BOARD:
            names = _name_list(ticket, "problem_types", "settings", self.name)
            return _named(entity, names, lambda name, n: Board(psa_id=name_id(name), name=name))
        names = _name_list(ticket, "priorities", "settings", self.name)
        return _named(entity, names, lambda name, n: Priority(
            psa_id=name_id(name), name=name, sort_order=n))

    # -- live tickets --------------------------------------------------------------------

    def ticket_link(self, ticket_id: str) -> str:
        """The ticket in Syncro's web app (the API base without ``/api/v1``)."""
        parts = urlsplit(self.integration.base_url)
        root = parts.path.split("/api/v1")[0].rstrip("/")
        return urlunsplit((parts.scheme, parts.netloc, f"{root}/tickets/{ticket_id}", "", ""))

    async def list_tickets(self, query: TicketQuery) -> TicketPage:
        params: dict[str, Any] = {}
        if query.company is not None:
            if not query.company.isdigit():
                raise PsaInvalidId("company must be a numeric Syncro customer id",
                                   integration=self.name)
            params["customer_id"] = query.company
        if query.status is not None:
            params["status"] = id_name(query.status)
        if query.text:
            params["query"] = query.text
        board = id_name(query.board) if query.board is not None else None
        priority = id_name(query.priority) if query.priority is not None else None
        if query.page < 1 or query.page_size < 1:
            raise ValueError("page and page_size must be positive")
        items, has_more = await self._ticket_window(
            params, (query.page - 1) * query.page_size, query.page_size,
            _ticket_filter(board, priority))
        tickets, rejected = translate_tickets(items, self._ticket)
        return TicketPage(tickets=tickets, page=query.page, page_size=query.page_size,
                          has_more=has_more, rejected=rejected)

    async def _ticket_window(self, params: Mapping[str, Any], start: int, size: int,
                             keep: Callable[[Mapping[str, Any]], bool] | None, *,
                             relearned: bool = False) -> tuple[list[Mapping[str, Any]], bool]:
        """Wire tickets ``start``… of the (filtered) list, and whether more follow.

        Without a client-side filter this jumps to the upstream page holding
        ``start`` once Syncro's page size is known; with one it scans from the
        first page, at most :data:`MAX_SCAN_PAGES` pages.
        """
        per_page = self._ticket_page_size if keep is None else None
        first = start // per_page + 1 if per_page else 1
        skip = start - (first - 1) * per_page if per_page else start
        out: list[Mapping[str, Any]] = []  # a malformed ticket keeps its slot
        scanned = 0
        async for page, items, total_pages in self._pages("tickets", "tickets", params,
                                                          first=first):
            last = total_pages is None or page >= total_pages
            if not last and self._ticket_page_size != len(items):
                self._ticket_page_size = len(items)
                if per_page is not None and not relearned:
                    return await self._ticket_window(params, start, size, keep, relearned=True)
            for item in items:
                if not isinstance(item, dict) or (keep is not None and not keep(item)):
                    continue
                if skip:
                    skip -= 1
                    continue
                if len(out) == size:
                    return out, True
                out.append(item)
            scanned += 1
            if keep is not None and scanned >= MAX_SCAN_PAGES and not last:
                return out, True
        return out, False

    async def get_ticket(self, ticket_id: str) -> Ticket:
        if not ticket_id.isdigit():
            raise PsaInvalidId("ticket id must be numeric", integration=self.name)
        body = await self._get(f"tickets/{ticket_id}")
        record = body.get("ticket", body) if isinstance(body, dict) else body
        try:
            return self._ticket(wire.obj(record, "ticket"))
        except BadRecord as err:
            raise PsaBadResponse(f"GET tickets/{ticket_id}: {err}",
                                 integration=self.name) from None

    def _ticket(self, d: Mapping[str, Any]) -> Ticket:
        ticket_id = wire.psa_id(d)
        status = wire.opt_text(d, "status")
        contact = wire.ref(d, "contact")
        return Ticket(
            psa_id=ticket_id,
            summary=wire.opt_text(d, "subject") or "",
            company_psa_id=wire.opt_id(d, "customer_id"),
            company_name=wire.opt_text(d, "customer_business_then_name"),
            board=wire.opt_text(d, "problem_type"),
            status=status,
            priority=wire.opt_text(d, "priority"),
            contact=wire.opt_text(d, "contact_fullname")
            or (wire.opt_text(contact, "name") if contact else None),
            created_at=wire.parse_datetime(d.get("created_at"), "created_at"),
            updated_at=wire.parse_datetime(d.get("updated_at"), "updated_at"),
            closed=status in CLOSED_STATUSES,
            url=self.ticket_link(ticket_id),
        )


# --- translation ------------------------------------------------------------------------


def _ticket_filter(board: str | None, priority: str | None,
                   ) -> Callable[[Mapping[str, Any]], bool] | None:
    """Syncro cannot filter tickets by problem type or priority; psad does, per item."""
    if board is None and priority is None:
        return None

    def keep(t: Mapping[str, Any]) -> bool:
        return ((board is None or t.get("problem_type") == board)
                and (priority is None or t.get("priority") == priority))
    return keep


def _positive_int(raw: str | None, default: int, where: str) -> int:
    if raw is None or not raw.strip():
        return default
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ConfigError([f"{where}: must be a whole number of at least 1"])
    return int(raw)


def _name_list(body: Mapping[str, Any], key: str, path: str, integration: str) -> list[Any]:
    names = body.get(key)
    if not isinstance(names, list):
        raise PsaBadResponse(f"GET {path}: expected a {key!r} list", integration=integration)
    return names


def _named(entity: Entity, names: Sequence[Any], build: Callable[[str, int], Record]) -> Page:
    """Records for a settings name list; position in the list is the sort order."""
    records: list[Record] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for position, raw in enumerate(names):
        try:
            name = wire.opt_text({"name": raw}, "name")
            if name is None or name in seen:
                continue  # Syncro lists a blank priority first
            seen.add(name)
            record = build(name, position)
            wire.psa_id({"id": record.psa_id})
        except BadRecord as err:
            rejected.append(Rejected(entity, None, f"{entity.value}[{position}]: {err}"))
            continue
        records.append(record)
    return Page(records, rejected)


def _properties(d: Mapping[str, Any]) -> Mapping[str, Any]:
    props = d.get("properties")
    if props is None:
        return {}
    return wire.obj(props, "properties")


def _blank(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _custom(props: Mapping[str, Any], selected: Sequence[str]) -> dict[str, Any]:
    pairs = [(k, _blank(v)) for k, v in props.items()]
    note_custom_fields(name for name, value in pairs if value is not None)
    return dict(wire.pick_custom(pairs, selected))


def _property(props: Mapping[str, Any], names: Iterable[str]) -> Any:
    """The first non-empty custom field among ``names`` (matched case-insensitively)."""
    folded = {str(k).casefold(): v for k, v in props.items()}
    for name in names:
        value = _blank(folded.get(name.casefold()))
        if value is not None and not isinstance(value, (dict, list)):
            return value
    return None


def _property_text(props: Mapping[str, Any], names: Iterable[str]) -> str | None:
    value = _property(props, names)
    return wire.opt_text({"v": value}, "v") if value is not None else None


def _loose_date(value: Any) -> date | None:
    """A custom date field: ISO ``YYYY-MM-DD…`` or US ``MM/DD/YYYY``; else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if us := _US_DATE.match(text):
            return date(int(us[3]), int(us[1]), int(us[2]))
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _address(d: Mapping[str, Any], line1: str, line2: str) -> Address:
    return Address(line1=wire.opt_text(d, line1), line2=wire.opt_text(d, line2),
                   city=wire.opt_text(d, "city"), region=wire.opt_text(d, "state"),
                   postal_code=wire.opt_text(d, "zip"))


def _customer_name(d: Mapping[str, Any]) -> str:
    person = " ".join(p for p in (wire.opt_text(d, "firstname"), wire.opt_text(d, "lastname"))
                      if p)
    name = (wire.opt_text(d, "business_name") or wire.opt_text(d, "business_then_name")
            or wire.opt_text(d, "fullname") or person)
    if not name:
        raise BadRecord("business_name: a customer needs a business or person name")
    return name


def _company(d: Mapping[str, Any], website_field: str | None) -> Company:
    website = _property_text(_properties(d), (website_field,)) if website_field else None
    return Company(psa_id=wire.psa_id(d), name=_customer_name(d), website=website,
                   status=DISABLED if wire.flag(d, "disabled") else ACTIVE)


def _site(d: Mapping[str, Any]) -> Site:
    customer_id = wire.psa_id(d)
    return Site(psa_id=customer_id, company_psa_id=customer_id, name=SITE_NAME,
                active=not wire.flag(d, "disabled"), primary=True,
                address=_address(d, "address", "address_2"))


def _agent_os(props: Mapping[str, Any]) -> str | None:
    kabuto = props.get("kabuto_information")
    os_info = kabuto.get("os") if isinstance(kabuto, dict) else None
    return wire.opt_text(os_info, "name") if isinstance(os_info, dict) else None


def _asset(d: Mapping[str, Any], selected: Sequence[str]) -> Asset:
    props = _properties(d)
    return Asset(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.opt_id(d, "customer_id"),
        name=wire.text(d, "name"),
        type=wire.opt_text(d, "asset_type"),
        purchase_date=_loose_date(_property(props, PURCHASE_FIELDS)),
        warranty_expiration=_loose_date(_property(props, WARRANTY_FIELDS)),
        serial_number=wire.opt_text(d, "asset_serial"),
        os_type=_agent_os(props) or _property_text(props, OS_FIELDS),
        manufacturer=_property_text(props, MANUFACTURER_FIELDS),
        custom_fields=_custom(props, selected),
    )


def _contact(d: Mapping[str, Any], selected: Sequence[str]) -> Contact:
    props = _properties(d)
    name = wire.opt_text(d, "name")
    if name is None:
        raise BadRecord("name: a contact needs a name")
    first, _, last = name.partition(" ")
    return Contact(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.opt_id(d, "customer_id"),
        first_name=first,
        last_name=last.strip() or None,
        title=wire.opt_text(d, "title") or _property_text(props, ("title",)),
        email=wire.opt_text(d, "email"),
        phone=wire.opt_text(d, "phone") or wire.opt_text(d, "mobile"),
        address=_address(d, "address1", "address2"),
        custom_fields=_custom(props, selected),
    )
