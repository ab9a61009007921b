"""Kaseya BMS REST API v2 (``https://api.bms.kaseya.com/v2/``; EMEA, APAC and
vorexlogin hosts alike).

Wire facts confirmed in the BMS API 2.0 OpenAPI document harvested from
``api.bms.kaseya.com/swagger/v2/swagger.json`` (api-evangelist/kaseya
``openapi/kaseya-bms-openapi-original.json``), in a client that runs against
the real API (jc3k/M-Code-PowerQuery-for-Kaseya-BMS-API ``Auth_Query.m``,
``GetPagedData.m``, ``Record_Count_Template.m``) and in Kaseya's help:

- Auth: ``POST /v2/security/authenticate`` with a form (``GrantType=password``,
  ``UserName``, ``Password``, ``Tenant``) answers ``accessToken``,
  ``refreshToken``, ``accessTokenExpireOn``, ``refreshTokenExpireOn``; calls
  then carry ``Authorization: Bearer``. ``POST /v2/security/refreshtoken``
  (form ``AccessToken``, ``RefreshToken``) renews the pair. The spec says
  multipart, jc3k posts url-encoded; psad posts url-encoded.
- Envelope: ``{success, error: {code, message, details, stackStrace,
  subErrors}, result}``, plus ``totalRecords`` on paged lists only (accounts
  and contacts summary, ticket search). camelCase on the wire, PascalCase in
  the spec: both are read.
- Paging: ``PageSize`` and ``PageNumber`` query parameters (in the JSON body for
  ``POST`` searches), filters as ``Filter.<Name>``.
- Companies: ``GET /v2/crm/accounts/summary`` (``Filter.ModifiedOnFrom``),
  each account embedding ``locations[]`` with ``addresses[]`` (the sites).
  Cheap id listing: ``GET /v2/crm/accounts/lookup`` (``id, name, tenantName,
  isActive``) with ``Filter.WithInactiveAccounts=true``.
- Company types: ``GET /v2/system/accounttypes/lookup`` (``id, name, isActive,
  isClient, isVendor``, no default flag); an account carries one
  ``accountTypeId``/``accountType``.
- Contacts: ``GET /v2/crm/contacts/summary`` (``Filter.ModifiedOnFrom``) with
  ``jobTitle``, ``isPoc``, ``isActive``, ``emails[]``/``phones[]`` with
  ``isDefault``, a ``locationId`` and no address or custom fields; custom
  fields come from ``GET /v2/system/customFields/{moduleId}/{objectId}`` as
  ``[{id, name, data, customFieldType, customFieldId}]``. Cheap id listing:
  ``GET /v2/crm/contacts/search``. A location is
  ``GET /v2/crm/accounts/{accountId}/locations/{locationId}``.
- Assets: ``GET /v2/servicedesk/hardwareasset/searchselect`` lists thin rows
  (no modified date, no changed-since filter, no ``totalRecords``); the fields
  come from ``GET /v2/servicedesk/hardwareasset/{assetId}``: ``name``,
  ``accountId``, ``category``, ``state``, ``manufacturer``, ``serialNumber``,
  ``osType``/``osInfo``, ``acquisitionDate``, ``warrantyExpirationDate``,
  ``description``. No custom fields. IT Glue's BMS field mapping (Kaseya help)
  pairs Category with type, Description with notes, OS Info with operating
  system, Acquisition Date with purchase date.
- Ticket set-up: ``/v2/system/queues/lookup`` (``id, name, isActive``),
  ``/v2/system/priorities/lookup`` (``id, name, color, isDefault``),
  ``/v2/system/statuses/lookup`` (``id, name, statusOrder, typeId, isActive``);
  none of them paged.
- Tickets: ``POST /v2/servicedesk/tickets/search`` with ``{PageSize,
  PageNumber, Filter: {AccountIds, QueueNames, StatusNames, PriorityNames,
  Title}}`` (the ``GET`` form is deprecated); filters take names, not ids.
  ``GET /v2/servicedesk/tickets/{ticketId}`` for one.
- Limit: "1500 calls per hour per endpoint" (help.bms.kaseya.com).

Inferred (unconfirmed; tolerant where cheap): pages are 1-based (jc3k's paged
loop starts at 1; a server that ignores ``PageNumber`` is detected); lists
end on a short page or at ``totalRecords``; the HTTP status follows
``error.code`` but a ``200`` with ``success: false`` is read as the failure it
reports (code 404 → not found); an expired token answers 401, which renews it
(refresh token first, then a fresh sign-in), and tokens are also renewed
shortly before ``accessTokenExpireOn``; throttling answers 429 with
``Retry-After`` (the shared client backs off); ``Filter.ModifiedOnFrom`` is
inclusive and date-times without a zone are UTC; ``Filter.IsActive`` absent
means all records; the contacts module id for custom fields is 2 (setting
``contact_custom_fields_module``); status ``typeId`` 3 means closed and a
ticket with a ``completedDate`` is closed; the UI opens a ticket at
``/MSP/TicketEdit.aspx?ID={id}`` on the API host without its ``api.`` prefix
(setting ``ui_url``); ``Title`` matches by substring; bare answers without the
envelope are accepted as the result.

Vendor gaps and how they map:
- Company status: BMS has only ``isActive`` → two derived statuses, "Active"
  (the default) and "Inactive"; the account type goes to ``types``.
- Site: BMS locations; the address is the location's main address.
- Asset: no custom fields → every selected asset field is None; OS type is
  ``osInfo`` (the OS name), falling back to ``osType`` (the platform).
- Contact: the type is "Point of Contact" when ``isPoc``, else None; the
  address is the contact's location's main address (refreshed when the
  contact changes or on a full sync); custom-field values are BMS's strings.
- Priority: no sort order → None. Ticket status: global (no board).
- Cost: assets take one call each and contact custom fields (only when
  selected) one call per contact, against the per-endpoint hourly limit. So a
  run reads an asset's details only when psad has none, when its list row
  (name, category, serial number, account) differs from what psad stored, or
  when its turn in the rolling refresh comes: a fixed 1/N of the assets each
  day (setting ``asset_detail_refresh_days``, default 7), so every asset is
  re-read within N days. The rest stand as stored; a change the list row does
  not show (notes, dates, state) arrives with the asset's refresh. The log
  says how many details were read and deferred.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit, urlunsplit

from psad.connectors import wire
from psad.connectors.base import (Connector, Page, Setting, translate_page, translate_tickets,
                                 translated)
from psad.connectors.wire import BadRecord
from psad.errors import PsaAuthError, PsaBadResponse, PsaInvalidId, PsaNotFound
from psad.http import BearerTokenAuth, PsaClient, RequestPriority, with_priority
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

log = logging.getLogger("psad.connectors.kaseya_bms")

DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000
MAX_TICKET_PAGE_SIZE: Final = 500
MAX_PAGES: Final = 100_000
LOOKUP_TTL: Final = 300.0
LOCATION_CACHE_SIZE: Final = 20_000
EARLY_RENEWAL: Final = 60.0
DEFAULT_CONTACT_MODULE: Final = "2"
DEFAULT_REFRESH_DAYS: Final = 7
CLOSED_STATUS_TYPES: Final = frozenset({3})
POINT_OF_CONTACT: Final = "Point of Contact"
ACTIVE: Final = CompanyStatus(psa_id="active", name="Active", is_default=True)
INACTIVE: Final = CompanyStatus(psa_id="inactive", name="Inactive", is_default=False)
_REFUSED: Final = frozenset({400, 401, 403})

ACCOUNTS: Final = "crm/accounts/summary"
CONTACTS: Final = "crm/contacts/summary"
ASSET_ROWS: Final = "servicedesk/hardwareasset/searchselect"
LOOKUPS: Final[dict[str, str]] = {
    "queues": "system/queues/lookup",
    "priorities": "system/priorities/lookup",
    "statuses": "system/statuses/lookup",
}
ID_LISTS: Final[dict[Entity, tuple[str, dict[str, str]]]] = {
    Entity.COMPANY: ("crm/accounts/lookup", {"Filter.WithInactiveAccounts": "true"}),
    Entity.CONTACT: ("crm/contacts/search", {}),
    Entity.ASSET: (ASSET_ROWS, {}),
}

T = TypeVar("T")


def bms_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def api_root(base_url: str) -> str:
    """The ``…/v2/`` root, whether the configured URL names it or stops at the host."""
    root = base_url if base_url.endswith("/") else base_url + "/"
    return root if root.endswith("/v2/") else root + "v2/"


def ui_root(api: str) -> str:
    parts = urlsplit(api)
    return urlunsplit((parts.scheme, parts.netloc.removeprefix("api."), "", "", ""))


# --- the envelope ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Envelope:
    result: Any
    total: int | None


def _key(body: Mapping[str, Any], name: str) -> Any:
    """A camelCase key, or its PascalCase twin."""
    if name in body:
        return body[name]
    return body.get(name[:1].upper() + name[1:])


def camel(value: Any) -> Any:
    """A record with PascalCase keys (as the spec writes them) in wire camelCase."""
    if isinstance(value, dict):
        if not any(k[:1].isupper() for k in value):
            return value
        return {k[:1].lower() + k[1:]: camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def unwrap(body: Any, what: str, *, status: int, integration: str) -> Envelope:
    """The ``result`` of a BMS answer; ``success: false`` becomes the matching error.

    A bare list or object (the spec shows a few by-id routes unwrapped) is taken as
    the result itself.
    """
    if isinstance(body, list):
        return Envelope(body, None)
    if not isinstance(body, dict):
        raise PsaBadResponse(f"{what}: expected the BMS envelope, got {type(body).__name__}",
                             status=status, integration=integration)
    if all(_key(body, k) is None for k in ("success", "error", "result")) and body:
        return Envelope(body, None)
    if _key(body, "success") is not True:
        error = _key(body, "error")
        error = error if isinstance(error, dict) else {}
        code = _key(error, "code")
        message = str(_key(error, "message") or "no message")
        text = f"{what}: BMS reported a failure" + (f" (code {code})" if code else "") + \
            f": {message}"
        if code == 404:
            raise PsaNotFound(text, integration=integration)
        if code in (401, 403):
            raise PsaAuthError(text, integration=integration)
        raise PsaBadResponse(text, status=status, body_excerpt=message[:200],
                             integration=integration)
    total = _key(body, "totalRecords")
    if isinstance(total, bool) or not isinstance(total, int):
        total = None
    return Envelope(_key(body, "result"), total)


def records(result: Any, what: str, integration: str) -> list[Any]:
    if result is None:
        return []
    if not isinstance(result, list):
        raise PsaBadResponse(f"{what}: expected a list in result, got {type(result).__name__}",
                             integration=integration)
    return [camel(item) for item in result]


async def gather(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Per-record calls, run concurrently behind the sync's chains of pages; the first
    failure cancels the rest and is raised as is."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(with_priority(RequestPriority.FAN_OUT, c))
                     for c in coros]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


# --- auth ------------------------------------------------------------------------------


class BmsAuth(BearerTokenAuth):
    """Bearer tokens from the form sign-in, renewed before expiry and after a 401."""

    def __init__(self, client: PsaClient, root: str, tenant: str, username: str,
                 password: str, integration: str) -> None:
        super().__init__()
        self.client = client
        self.root = root
        self.integration = integration
        self._credentials = {"GrantType": "password", "UserName": username,
                             "Password": password, "Tenant": tenant}
        self._who = f"{username} at {tenant}"
        self._refresh: str | None = None
        self.sign_ins = 0
        self.refreshes = 0

    async def _obtain(self) -> None:
        await self._sign_in()

    async def _renew(self) -> None:
        if not await self._use_refresh_token():
            await self._sign_in()

    async def _post(self, path: str, form: Mapping[str, str]) -> tuple[int, Any]:
        response = await self.client.request("POST", self.root + path, form=form,
                                             allow_statuses=_REFUSED)
        return response.status, response.body

    async def _sign_in(self) -> None:
        status, body = await self._post("security/authenticate", self._credentials)
        try:
            result = unwrap(body, "POST security/authenticate", status=status,
                            integration=self.integration).result
            self._accept(result)
        except (PsaBadResponse, PsaAuthError, PsaNotFound, BadRecord) as err:
            raise PsaAuthError(f"BMS refused the sign-in of {self._who} (HTTP {status}): {err}",
                               integration=self.integration) from None
        self.sign_ins += 1

    async def _use_refresh_token(self) -> bool:
        if self._token is None or self._refresh is None:
            return False
        status, body = await self._post("security/refreshtoken",
                                        {"AccessToken": self._token,
                                         "RefreshToken": self._refresh})
        try:
            self._accept(unwrap(body, "POST security/refreshtoken", status=status,
                                integration=self.integration).result)
        except (PsaBadResponse, PsaAuthError, PsaNotFound, BadRecord):
            return False
        self.refreshes += 1
        return True

    def _accept(self, result: Any) -> None:
        tokens = wire.obj(camel(result), "result")
        self._token = wire.text(tokens, "accessToken")
        self._refresh = wire.opt_text(tokens, "refreshToken")
        expires = wire.parse_datetime(tokens.get("accessTokenExpireOn"), "accessTokenExpireOn")
        lifetime = None if expires is None else (expires - datetime.now(UTC)).total_seconds()
        self._renew_at = None
        if lifetime is not None and lifetime > 0:  # else (clock skew) only a 401 renews
            self._renew_at = self.clock() + lifetime - min(EARLY_RENEWAL, lifetime / 10)


# --- the connector ---------------------------------------------------------------------


class KaseyaBmsConnector(Connector):
    kind = "kaseya_bms"
    settings = (
        Setting("tenant", "the BMS company (tenant) name from My Settings"),
        Setting("username", "the BMS user psad signs in as (API access, no MFA)"),
        Setting("password", "that user's password", secret=True),
        Setting("ui_url", "the BMS web address for ticket links; default: the API host "
                "without its 'api.' prefix", required=False),
        Setting("contact_custom_fields_module", "BMS module id of contact custom fields "
                f"(default {DEFAULT_CONTACT_MODULE})", required=False, type=int, minimum=0,
                maximum=1_000_000),
        Setting("asset_detail_refresh_days", "days within which every asset's details are "
                f"re-read even when its list row is unchanged (default {DEFAULT_REFRESH_DAYS})",
                required=False, type=int, minimum=1, maximum=365),
    )
    incremental = frozenset({Entity.COMPANY, Entity.CONTACT})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.integration
        self.api_root = api_root(cfg.base_url)
        self.ui_root = (cfg.settings.get("ui_url") or ui_root(self.api_root)).rstrip("/")
        self.contact_module = cfg.settings.get("contact_custom_fields_module",
                                               DEFAULT_CONTACT_MODULE)
        if not self.contact_module.isdigit():
            raise ValueError("contact_custom_fields_module must be a number")
        days = cfg.settings.get("asset_detail_refresh_days", str(DEFAULT_REFRESH_DAYS))
        if not days.isdigit() or int(days) < 1:
            raise ValueError("asset_detail_refresh_days must be a whole number of days, 1 or more")
        self.refresh_days = int(days)
        self.today: Callable[[], date] = lambda: datetime.now(UTC).date()
        self.auth = BmsAuth(self.client, self.api_root, cfg.settings["tenant"],
                            cfg.settings["username"], self.secrets["password"], cfg.name)
        self.page_size = min(cfg.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        self._addresses: OrderedDict[str, Address] = OrderedDict()
        self._lookups: dict[str, tuple[float, dict[str, str]]] = {}

    # -- transport -----------------------------------------------------------------------

    async def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                    body: Any = None) -> Envelope:
        response = await self.client.request(method, self.api_root + path, params=params,
                                             json_body=body, auth=self.auth)
        return unwrap(response.body, f"{method} {path}", status=response.status,
                      integration=self.name)

    async def _pages(self, path: str, params: Mapping[str, str] | None = None
                     ) -> AsyncIterator[list[Any]]:
        """Every item under ``path``, one upstream page at a time."""
        size = self.page_size
        first_ids: set[object] = set()
        for number in range(1, MAX_PAGES + 1):
            envelope = await self._call("GET", path, params={**(params or {}),
                                                            "PageNumber": number,
                                                            "PageSize": size})
            items = records(envelope.result, f"GET {path}", self.name)
            if not items:
                return
            first = items[0].get("id") if isinstance(items[0], dict) else None
            if first is not None and first in first_ids:
                raise PsaBadResponse(f"GET {path}: page {number} repeats an earlier page; "
                                     "the server ignored PageNumber", integration=self.name)
            first_ids.add(first)
            if number == 1:
                report_total(envelope.total)
            yield items
            last = envelope.total is not None and number * size >= envelope.total
            if len(items) < size or last:
                return
        raise PsaBadResponse(f"GET {path}: more than {MAX_PAGES} pages", integration=self.name)

    async def _lookup(self, kind: str) -> list[Any]:
        envelope = await self._call("GET", LOOKUPS[kind])
        return records(envelope.result, f"GET {LOOKUPS[kind]}", self.name)

    # -- sync ------------------------------------------------------------------------------

    def fetch(self, entity: Entity, *, since: datetime | None = None) -> AsyncIterator[Page]:
        fetchers: dict[Entity, Callable[[datetime | None], AsyncIterator[Page]]] = {
            Entity.COMPANY_STATUS: self._company_statuses,
            Entity.COMPANY: self._companies,
            Entity.SITE: self._sites,
            Entity.ASSET: self._assets,
            Entity.CONTACT: self._contacts,
            Entity.BOARD: self._setup("queues", Entity.BOARD, _board),
            Entity.PRIORITY: self._setup("priorities", Entity.PRIORITY, _priority),
            Entity.TICKET_STATUS: self._setup("statuses", Entity.TICKET_STATUS, _ticket_status),
        }
        return fetchers[entity](since if entity in self.incremental else None)

    async def list_ids(self, entity: Entity) -> AsyncIterator[Sequence[str]]:
        if entity in ID_LISTS:
            path, params = ID_LISTS[entity]
            async for items in self._pages(path, params):
                yield [str(i["id"]) for i in items
                       if isinstance(i, dict) and i.get("id") is not None]
            return
        async for page in self.fetch(entity):
            yield [r.psa_id for r in page.records] + [r.psa_id for r in page.rejected if r.psa_id]

    @staticmethod
    def _changed(since: datetime | None) -> dict[str, str]:
        return {} if since is None else {"Filter.ModifiedOnFrom": bms_timestamp(since)}

    async def _company_statuses(self, since: datetime | None) -> AsyncIterator[Page]:
        yield Page([ACTIVE, INACTIVE])

    async def _companies(self, since: datetime | None) -> AsyncIterator[Page]:
        async for items in self._pages(ACCOUNTS, self._changed(since)):
            yield await translated(Entity.COMPANY, items, _company)

    async def _sites(self, since: datetime | None) -> AsyncIterator[Page]:
        async for items in self._pages(ACCOUNTS):
            found: list[Record] = []
            rejected: list[Rejected] = []
            for item in items:
                page = self._account_sites(item)
                found.extend(page.records)
                rejected.extend(page.rejected)
            yield Page(found, rejected)

    def _account_sites(self, item: Any) -> Page:
        try:
            account = wire.obj(item, "account")
            company_id = wire.psa_id(account)
            locations = account.get("locations") or []
            if not isinstance(locations, list):
                raise BadRecord("locations: expected a list")
        except BadRecord as err:
            return Page([], [Rejected(Entity.SITE, None, f"account: {err}")])
        page = translate_page(Entity.SITE, locations, lambda d: _site(d, company_id))
        for site in page.records:
            if isinstance(site, Site):
                self._remember(site.psa_id, site.address)
        return page

    async def _assets(self, since: datetime | None) -> AsyncIterator[Page]:
        """List rows, then details for the assets that need them (see the module notes)."""
        stored = await self.stored(Entity.ASSET) if self.stored is not None else {}
        turn = self.today().toordinal() % self.refresh_days
        changed = refreshed = deferred = 0
        async for rows in self._pages(ASSET_ROWS):
            ids: list[str] = []
            present: list[str] = []
            rejected: list[Rejected] = []
            for row in rows:
                try:
                    d = wire.obj(row, "asset")
                    asset_id = wire.psa_id(d)
                    old = stored.get(asset_id)
                    if old is None or _row_differs(d, old):
                        changed += 1
                    elif zlib.crc32(asset_id.encode()) % self.refresh_days == turn:
                        refreshed += 1
                    else:
                        deferred += 1
                        present.append(asset_id)
                        continue
                    ids.append(asset_id)
                except BadRecord as err:
                    rejected.append(Rejected(Entity.ASSET, None, str(err)))
            details = await gather(self._asset(asset_id) for asset_id in ids)
            found = [d for d in details if isinstance(d, Asset)]
            rejected.extend(d for d in details if isinstance(d, Rejected))
            yield Page(found, rejected, present=present)
        log.info("integration=%s asset details read: %d new or changed, %d in the rolling "
                 "refresh (1/%d a day); %d deferred", self.name, changed, refreshed,
                 self.refresh_days, deferred)

    async def _asset(self, asset_id: str) -> Asset | Rejected | None:
        try:
            envelope = await self._call("GET", f"servicedesk/hardwareasset/{asset_id}")
        except PsaNotFound:
            return None  # deleted since the list was read
        except PsaBadResponse as err:
            return Rejected(Entity.ASSET, asset_id, str(err))
        try:
            return _asset(wire.obj(camel(envelope.result), "asset"),
                          self.integration.asset_custom_fields)
        except BadRecord as err:
            return Rejected(Entity.ASSET, asset_id, str(err))

    async def _contacts(self, since: datetime | None) -> AsyncIterator[Page]:
        selected = self.integration.contact_custom_fields
        async for items in self._pages(CONTACTS, self._changed(since)):
            contacts = [i for i in items if isinstance(i, dict)]
            await self._resolve_locations(contacts)
            custom: dict[str, list[Any] | str] = {}
            if selected:
                ids = [str(c["id"]) for c in contacts if c.get("id") is not None]
                custom = dict(zip(ids, await gather(self._custom_fields(i) for i in ids)))

            def parse(d: Mapping[str, Any]) -> Contact:
                return _contact(d, selected, custom.get(str(d.get("id"))),
                                self._address(wire.opt_id(d, "locationId")))

            yield await translated(Entity.CONTACT, items, parse)

    async def _custom_fields(self, contact_id: str) -> list[Any] | str:
        """The contact's custom fields, or why they could not be read."""
        path = f"system/customFields/{self.contact_module}/{contact_id}"
        try:
            envelope = await self._call("GET", path)
        except PsaNotFound:
            return []
        except PsaBadResponse as err:
            return str(err)
        return records(envelope.result, f"GET {path}", self.name)

    async def _resolve_locations(self, contacts: Sequence[Mapping[str, Any]]) -> None:
        """Read the locations these contacts sit at, unless the sites pass already did."""
        wanted: dict[str, str] = {}
        for contact in contacts:
            try:
                location, account = wire.opt_id(contact, "locationId"), wire.opt_id(contact,
                                                                                     "accountId")
            except BadRecord:
                continue
            if location and account and location not in self._addresses:
                wanted[location] = account
        found = await gather(self._location_address(a, loc) for loc, a in wanted.items())
        for location, address in zip(wanted, found):
            self._remember(location, address)

    async def _location_address(self, account_id: str, location_id: str) -> Address:
        try:
            envelope = await self._call(
                "GET", f"crm/accounts/{account_id}/locations/{location_id}")
            return _address(wire.obj(camel(envelope.result), "location"))
        except (PsaNotFound, BadRecord):
            return Address()

    def _remember(self, location_id: str, address: Address) -> None:
        self._addresses[location_id] = address
        self._addresses.move_to_end(location_id)
        while len(self._addresses) > LOCATION_CACHE_SIZE:
            self._addresses.popitem(last=False)

    def _address(self, location_id: str | None) -> Address:
        return self._addresses.get(location_id, Address()) if location_id else Address()

    def _setup(self, kind: str, entity: Entity, parse: Callable[[Mapping[str, Any]], Record]
               ) -> Callable[[datetime | None], AsyncIterator[Page]]:
        async def fetch(since: datetime | None) -> AsyncIterator[Page]:
            yield translate_page(entity, await self._lookup(kind), parse)
        return fetch

    # -- live tickets ----------------------------------------------------------------------

    def ticket_link(self, ticket_id: str) -> str:
        return f"{self.ui_root}/MSP/TicketEdit.aspx?ID={ticket_id}"

    async def _names(self, kind: str) -> dict[str, str]:
        cached = self._lookups.get(kind)
        if cached is not None and time.monotonic() - cached[0] < LOOKUP_TTL:
            return cached[1]
        names = {str(d["id"]): str(d["name"]) for d in await self._lookup(kind)
                 if isinstance(d, dict) and d.get("id") is not None and d.get("name")}
        self._lookups[kind] = (time.monotonic(), names)
        return names

    async def _name_of(self, kind: str, label: str, psa_id: str) -> str:
        if not psa_id.isdigit():
            raise PsaInvalidId(f"{label} must be a numeric BMS id", integration=self.name)
        name = (await self._names(kind)).get(psa_id)
        if name is None:
            raise PsaInvalidId(f"{label} {psa_id} does not exist in BMS", integration=self.name)
        return name

    async def list_tickets(self, query: TicketQuery) -> TicketPage:
        if query.page < 1:
            raise ValueError("page must be 1 or more")
        if not 1 <= query.page_size <= MAX_TICKET_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_TICKET_PAGE_SIZE}")
        filters: dict[str, str] = {}
        if query.company is not None:
            if not query.company.isdigit():
                raise PsaInvalidId("company must be a numeric BMS id", integration=self.name)
            filters["AccountIds"] = query.company
        for key, kind, label, value in (("QueueNames", "queues", "board", query.board),
                                        ("StatusNames", "statuses", "status", query.status),
                                        ("PriorityNames", "priorities", "priority",
                                         query.priority)):
            if value is not None:
                filters[key] = await self._name_of(kind, label, value)
        if query.text and query.text.strip():
            filters["Title"] = query.text.strip()
        envelope = await self._call("POST", "servicedesk/tickets/search", body={
            "PageSize": query.page_size, "PageNumber": query.page, "Filter": filters})
        items = records(envelope.result, "POST servicedesk/tickets/search", self.name)
        tickets, rejected = translate_tickets(items, self._parse_ticket)
        has_more = (query.page * query.page_size < envelope.total if envelope.total is not None
                    else len(items) == query.page_size)
        return TicketPage(tickets=tickets, page=query.page, page_size=query.page_size,
                          has_more=has_more, total=envelope.total, rejected=rejected)

    async def get_ticket(self, ticket_id: str) -> Ticket:
        if not ticket_id.isdigit():
            raise PsaInvalidId("ticket id must be numeric", integration=self.name)
        envelope = await self._call("GET", f"servicedesk/tickets/{ticket_id}")
        if envelope.result is None:
            raise PsaNotFound(f"ticket {ticket_id} not found", integration=self.name)
        return self._ticket(camel(envelope.result))

    def _ticket(self, item: Any) -> Ticket:
        try:
            return self._parse_ticket(wire.obj(item, "ticket"))
        except BadRecord as err:
            raise PsaBadResponse(f"malformed ticket from BMS: {err}",
                                 integration=self.name) from None

    def _parse_ticket(self, d: Mapping[str, Any]) -> Ticket:
        ticket_id = wire.psa_id(d)
        return Ticket(
            psa_id=ticket_id,
            summary=wire.opt_text(d, "title") or "",
            company_psa_id=wire.opt_id(d, "accountId"),
            company_name=wire.opt_text(d, "accountName"),
            board=wire.opt_text(d, "queueName"),
            status=wire.opt_text(d, "statusName"),
            priority=wire.opt_text(d, "priorityName"),
            contact=wire.opt_text(d, "contactName"),
            created_at=wire.parse_datetime(d.get("createdOn") or d.get("openDate"),
                                           "createdOn"),
            updated_at=wire.parse_datetime(d.get("modifiedOn") or d.get("lastActivityUpdate"),
                                           "modifiedOn"),
            closed=d.get("completedDate") not in (None, ""),
            url=self.ticket_link(ticket_id),
        )


# --- translation ---------------------------------------------------------------------------


def _company(d: Mapping[str, Any]) -> Company:
    account_type = wire.opt_text(d, "accountType")
    return Company(
        psa_id=wire.psa_id(d),
        name=wire.text(d, "accountName"),
        website=wire.opt_text(d, "website"),
        status=(ACTIVE if wire.flag(d, "isActive", default=True) else INACTIVE).name,
        types=(account_type,) if account_type else (),
    )


def _address(location: Mapping[str, Any]) -> Address:
    addresses = location.get("addresses") or []
    if not isinstance(addresses, list):
        raise BadRecord("addresses: expected a list")
    candidates = [a for a in addresses if isinstance(a, dict)]
    main = next((a for a in candidates if a.get("isMain") is True),
                candidates[0] if candidates else None)
    if main is None:
        return Address()
    return Address(
        line1=wire.opt_text(main, "address1"),
        line2=wire.opt_text(main, "address2"),
        city=wire.opt_text(main, "city"),
        region=wire.opt_text(main, "state"),
        postal_code=wire.opt_text(main, "zipCode"),
        country=wire.opt_text(main, "country"),
    )


def _site(d: Mapping[str, Any], company_id: str) -> Site:
    return Site(
        psa_id=wire.psa_id(d),
        company_psa_id=company_id,
        name=wire.text(d, "locationName"),
        active=wire.flag(d, "isActive", default=True),
        primary=wire.flag(d, "isMain"),
        address=_address(d),
    )


def _row_differs(row: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    """Whether an asset's list row shows something other than its stored record."""
    return (wire.opt_text(row, "assetName") != stored.get("name")
            or wire.opt_text(row, "categoryName") != stored.get("type")
            or wire.opt_text(row, "serialNumber") != stored.get("serial_number")
            or wire.opt_id(row, "accountId") != stored.get("company_psa_id"))


def _asset(d: Mapping[str, Any], selected: Sequence[str]) -> Asset:
    return Asset(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.opt_id(d, "accountId"),
        name=wire.text(d, "name"),
        status=wire.opt_text(d, "state"),
        type=wire.opt_text(d, "category"),
        purchase_date=wire.opt_date(d, "acquisitionDate"),
        warranty_expiration=wire.opt_date(d, "warrantyExpirationDate"),
        serial_number=wire.opt_text(d, "serialNumber"),
        os_type=wire.opt_text(d, "osInfo") or wire.opt_text(d, "osType"),
        notes=wire.opt_text(d, "description"),
        manufacturer=wire.opt_text(d, "manufacturer"),
        custom_fields=wire.pick_custom((), selected),
    )


def _default(d: Mapping[str, Any], key: str, value_key: str) -> str | None:
    """The default entry of ``emails``/``phones`` (else the first)."""
    items = d.get(key) or []
    if not isinstance(items, list):
        raise BadRecord(f"{key}: expected a list")
    entries = [i for i in items if isinstance(i, dict)]
    entries.sort(key=lambda i: i.get("isDefault") is not True)
    return wire.opt_text(entries[0], value_key) if entries else None


def _contact_custom(raw: list[Any] | str | None, selected: Sequence[str]) -> dict[str, Any]:
    if isinstance(raw, str):
        raise BadRecord(f"custom fields: {raw}")
    pairs = [(f["name"], f.get("data")) for f in raw or []
             if isinstance(f, dict) and isinstance(f.get("name"), str)]
    note_custom_fields(name for name, value in pairs if value not in (None, ""))
    return dict(wire.pick_custom(pairs, selected))


def _contact(d: Mapping[str, Any], selected: Sequence[str], custom: list[Any] | str | None,
             address: Address) -> Contact:
    first, last = wire.opt_text(d, "firstName"), wire.opt_text(d, "lastName")
    if first is None and last is None:
        raise BadRecord("firstName/lastName: a contact needs a name")
    return Contact(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.opt_id(d, "accountId"),
        first_name=first,
        last_name=last,
        type=POINT_OF_CONTACT if wire.flag(d, "isPoc") else None,
        title=wire.opt_text(d, "jobTitle"),
        email=_default(d, "emails", "emailAddress"),
        phone=_default(d, "phones", "phone"),
        address=address,
        active=wire.flag(d, "isActive", default=True),
        custom_fields=_contact_custom(custom, selected) if selected else {},
    )


def _board(d: Mapping[str, Any]) -> Board:
    return Board(psa_id=wire.psa_id(d), name=wire.text(d, "name"),
                 active=wire.flag(d, "isActive", default=True))


def _priority(d: Mapping[str, Any]) -> Priority:
    return Priority(psa_id=wire.psa_id(d), name=wire.text(d, "name"))


def _ticket_status(d: Mapping[str, Any]) -> TicketStatus:
    return TicketStatus(psa_id=wire.psa_id(d), name=wire.text(d, "name"),
                        closed=wire.opt_int(d, "typeId") in CLOSED_STATUS_TYPES,
                        sort_order=wire.opt_int(d, "statusOrder"))
