"""HaloPSA REST API (``https://{host}/api/``), OAuth2 client credentials.

Wire facts this module relies on, confirmed in public sources:

- Token: ``POST {auth_url}/token`` (default ``https://{host}/auth/token``) with the form
  ``grant_type=client_credentials&client_id&client_secret&scope=all``; hosted tenants add
  ``?tenant={tenant}`` (n8n ``HaloPSA/GenericFunctions.ts`` getAuthUrl, homotechsual/HaloAPI
  ``Connect-HaloAPI.ps1``, CIPP ``Get-HaloToken``). The answer carries ``access_token``,
  ``token_type``, ``expires_in`` (n8n ``IHaloPSATokens``). Clients renew about 60 s before
  expiry (netaryx/pyhalopsa ``auth.py``; django-psa caches 3540 of 3600 s) and fetch a new
  token and retry once on a 401 (topleft-team/django-psa ``halo/api.py``).
- Paging: ``pageinate=true&page_size=N&page_no=M`` (1-based, note the spelling); the answer is
  ``{"record_count": N, "<key>": [...]}`` and clients stop once they hold ``record_count``
  records (n8n ``haloPSAApiRequestAllItems``, HaloAPI ``New-HaloGETRequest.ps1``). What a
  page past the end holds is not documented (inferred: empty, as the simulator answers; a
  client, django-psa ``sync/sync.py`` fetch_records, guards against a repeated page), so
  psad stops on ``record_count`` and on a repeated page, and never asks past the end.
  Once page 1 has told ``record_count``, the remaining pages are read several at a time
  (:mod:`psad.connectors.paging`).
  ``/Tickets`` caps ``page_size`` at 100 (covenanttechnologysolutions/halopsa-rest
  ``TicketsAPI.ts``); psad uses at most 100 everywhere.
- List keys: ``/Client`` → ``clients``, ``/Site`` → ``sites``, ``/Users`` → ``users``,
  ``/Asset`` → ``assets``, ``/Tickets`` → ``tickets``; ``/Team``, ``/Status``, ``/Priority``
  answer bare arrays (n8n node, django-psa ``ResponseKeyMixin`` users). Paths are
  case-insensitive (n8n mixes ``/client`` and ``/Client``).
- ``includeactive``/``includeinactive``, ``order``/``orderdesc``, ``idonly`` ("not compatible
  with pagination"), ``includeaddress`` on ``/Site`` and ``includeassetfields`` on ``/Asset``
  (halopsa-rest ``ClientAPI.ts``, ``AssetAPI.ts``; django-psa site sync).
- ``lastupdatefromdate`` takes a timestamp on ``/Tickets`` (django-psa ticket sync sends
  ``%Y-%m-%dT%H:%M:%S.%fZ``; a C# client sends ``2026-08-01T06:30:00``).
- Priorities come one row per SLA; ``id`` is an opaque string and tickets point at
  ``priorityid`` (django-psa ``priority/sync.py`` lookup_key).
- Site ``client_id`` and user ``site_id`` are JSON numbers with a fraction (``12.0``)
  (django-psa site sync; ProvisionData ``Site.g.cs``/``Users.g.cs`` type them Double).
- Site lists with ``includeaddress=true`` carry flat ``delivery_address_line1..5``
  (django-psa); single records carry ``delivery_address{line1..line4,postcode}``. Halo
  addresses (``AddressStore``) have no country (ProvisionData ``AddressStore.g.cs``).
- Users: ``firstname``, ``surname``, ``title``, ``emailaddress``, ``phonenumber``,
  ``mobilenumber``, ``inactive``, ``isimportantcontact``, ``primary_address``,
  ``customfields`` (ProvisionData ``Users.g.cs``). Clients: ``name``, ``website``,
  ``inactive``, ``toplevel_name``, ``main_site_id`` (n8n, django-psa client sync).
- Assets: ``inventory_number``, ``key_field``, ``client_id``, ``assettype_name``,
  ``status_name``, ``warranty_end``, ``notes``, ``manufacturer_name``, ``fields[]``,
  ``customfields[]`` (ProvisionData ``Asset.g.cs``). Asset-type fields such as
  "Serial Number" and "Purchase Date" live in ``fields[]`` (ProvisionData
  ``docs/CreateAsset.json``). Custom fields are ``{id, name, label, type, value, display}``
  (ProvisionData ``CustomField.g.cs``).
- Halo writes "no date" as 1900-01-01 (django-psa ``empty_date_parser``); psad reads any
  date before 1901 as none.
- Ticket filters ``client_id``, ``team`` (team ids), ``status_id``, ``priority`` (priority
  ids), ``search``; ``includestatus`` adds the status name (halopsa-rest ``TicketsAPI.ts``).
- Hosted tenants answer 429 "Rate Limit Reached - 300 Requests per rolling 5 minute window"
  (KelvinTegelaar/PowerShellWarrantyReports#51, homotechsual/HaloAPI#31).
- The agent UI opens a ticket at ``https://{host}/tickets?id={id}`` (several integrations
  and address-bar samples).

Inferred, and how psad stays correct if the guess is wrong:

- ``lastupdatefromdate`` on ``/Client``, ``/Users`` and ``/Asset``: the spec lists it there
  but types it bool. A tenant that ignores it answers a superset, which is still correct.
- Lists leave inactive rows out unless asked: psad always sends both include flags.
- ``idonly`` keeps the usual envelope; psad checks the ids it got against ``record_count``
  and pages through the full listing when they fall short.
- List payloads include ``customfields``; a tenant that omits them yields None for the
  selected fields. Selection matches a field's ``label``, its ``name``, or its name without
  Halo's ``CF`` prefix. Empty strings are read as none, midnight timestamps as dates.
- A status is closed when ``GET /Status?excludeclosed=true`` leaves it out (the parameter
  is in the spec; status rows carry no closed flag); Halo's built-in Closed status (id 9)
  is always closed.
- ``Retry-After`` on 429 is honoured when sent (the shared client), else back-off.
- Address lines: ``line3`` is the town, ``line4`` the county/region, ``line5`` of the flat
  list form the postcode.
- Ticket lists may lack ``priority_name``/``status_name``; names then come from
  ``/Priority`` and ``/Status``, cached for ten minutes.

Vendor gaps and how they are mapped:

- Company status: Halo has none. Two synthetic statuses, "Active" (the default, id
  ``active``) and "Inactive" (id ``inactive``), from ``client.inactive``.
- Company types: Halo's only grouping is the client's top level; ``types`` is
  ``(toplevel_name,)``.
- Site primary: no flag on the site; primary means ``client.main_site_id == site.id``.
  The client list is read once per run: a full companies fetch notes each client's
  main site and the sites fetch waits for it; after an incremental companies fetch
  (changed clients only) the sites fetch reads the list itself.
- Site and contact country: Halo addresses have none, so it stays empty.
- Contact type: Halo has none; "Important Contact" when ``isimportantcontact``, else none.
- Priority sort order: Halo has none; ``priorityid`` (1 is the most urgent) stands in.
- Ticket statuses are global in Halo (no board); boards are Halo teams.
- Sites are always fetched in full (their primary flag changes with the client), which
  doubles as their deletion sweep.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from psad.connectors import wire
from psad.connectors.base import (Connector, Page, Setting, translate_page, translate_tickets,
                                 translated)
from psad.connectors.paging import NumberedListing, NumberedPage
from psad.connectors.wire import BadRecord
from psad.errors import (PsaAuthError, PsaBadResponse, PsaInvalidId, PsaListingChanged,
                         PsaNotFound)
from psad.http import BearerTokenAuth, PsaClient, redact_url
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
    Site,
    Ticket,
    TicketPage,
    TicketQuery,
    TicketStatus,
)
from psad.progress import note_custom_fields, report_total

MAX_PAGE_SIZE = 100
TOKEN_MARGIN = 60.0
LOOKUP_TTL = 600.0
ID_CHUNK = 1000
FIRST_REAL_YEAR = 1901
CLOSED_STATUS_ID = "9"
IMPORTANT_CONTACT = "Important Contact"
ACTIVE = CompanyStatus(psa_id="active", name="Active", is_default=True)
INACTIVE = CompanyStatus(psa_id="inactive", name="Inactive", is_default=False)

_BOTH_STATES: Mapping[str, str] = {"includeactive": "true", "includeinactive": "true"}
_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2})T00:00:00(\.0+)?(Z|[+-]00:?00)?$")
_SERIAL = ("Serial Number", "Serial No", "Serial", "Service Tag")
_OS = ("Operating System", "OS", "OS Type")
_MANUFACTURER = ("Manufacturer", "Make")
_PURCHASED = ("Purchase Date", "Date of Purchase", "Purchased")


@dataclass(frozen=True, slots=True)
class Listing:
    """A paged Halo list: its path, envelope key and the parameters psad always sends."""

    path: str
    key: str
    params: Mapping[str, str] = field(default_factory=dict)


LISTINGS: dict[Entity, Listing] = {
    Entity.COMPANY: Listing("Client", "clients", _BOTH_STATES),
    Entity.SITE: Listing("Site", "sites", {**_BOTH_STATES, "includeaddress": "true"}),
    Entity.ASSET: Listing("Asset", "assets", {**_BOTH_STATES, "includeassetfields": "true"}),
    Entity.CONTACT: Listing("Users", "users", _BOTH_STATES),
}
TICKETS = Listing("Tickets", "tickets")


def halo_timestamp(moment: datetime) -> str:
    """The changed-since format django-psa sends to Halo: UTC with milliseconds and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class HaloAuth(BearerTokenAuth):
    """An OAuth2 client-credentials token, renewed before it expires and after a 401."""

    def __init__(self, client: PsaClient, token_url: str, form: Mapping[str, str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self._client = client
        self.token_url = token_url
        self._form = dict(form)

    async def _obtain(self) -> None:
        await self._fetch()

    async def _fetch(self) -> None:
        response = await self._client.request("POST", self.token_url, form=self._form,
                                              allow_statuses=frozenset({400, 401}))
        shown = redact_url(self.token_url)
        body = response.body
        if response.status in (400, 401):
            raise PsaAuthError(f"POST {shown}: HaloPSA refused the client credentials: "
                               f"{_oauth_error(body)}", integration=self._client.integration,
                               url=shown)
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise PsaBadResponse(f"POST {shown}: the token answer has no access_token",
                                 status=response.status, integration=self._client.integration,
                                 url=shown)
        lifetime = _lifetime(body.get("expires_in"))
        now = self.clock()
        self._token = body["access_token"]
        self._renew_at = now + lifetime - min(TOKEN_MARGIN, lifetime / 2)


def _lifetime(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 3600.0
    return seconds if seconds > 0 else 3600.0


def _oauth_error(body: Any) -> str:
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("error", "error_description") if body.get(k)]
        return ": ".join(parts) or "no reason given"
    return str(body)[:200] if body else "no reason given"


@dataclass(slots=True)
class _Lookups:
    """Status and priority names for live tickets whose list rows lack them."""

    statuses: dict[str, tuple[str, bool]]
    priorities: dict[str, str]
    loaded_at: float


class HaloConnector(Connector):
    kind = "halo"
    settings = (
        Setting("client_id", "Client ID of the API application (Configuration > Integrations "
                             "> Halo API > View Applications)"),
        Setting("client_secret", "Client Secret of that application (Client Credentials, "
                                 "permission 'all' or read access)", secret=True),
        Setting("tenant", "tenant name of a Halo-hosted instance (sent as ?tenant= to the "
                          "token endpoint); leave out on-premise", required=False),
        Setting("auth_url", "Authorisation Server URL when it is not https://{host}/auth",
                required=False),
        Setting("scope", "OAuth scope to request (default: all)", required=False),
    )
    incremental = frozenset({Entity.COMPANY, Entity.ASSET, Entity.CONTACT})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.integration
        self.root = _root(cfg.base_url)
        auth_url = (cfg.settings.get("auth_url") or self.root + "/auth").rstrip("/")
        tenant = cfg.settings.get("tenant")
        token_url = auth_url + "/token" + (f"?tenant={quote(tenant)}" if tenant else "")
        form = {"grant_type": "client_credentials", "client_id": cfg.settings["client_id"],
                "client_secret": self.secrets["client_secret"],
                "scope": cfg.settings.get("scope") or "all"}
        self.auth = HaloAuth(self.client, token_url, form)
        self.page_size = min(cfg.page_size or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
        self._lookups: _Lookups | None = None
        self._main_site_of: dict[str, str] | None = None
        """Client id → main site id from this run's full client read, for its sites."""
        self._clients_read = asyncio.Event()
        self._clients_read.set()

    # -- transport -----------------------------------------------------------------

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        response = await self.client.get(self.integration.base_url + path, params=params,
                                         auth=self.auth)
        return response.body

    async def _bare(self, path: str, params: Mapping[str, str] | None = None) -> list[Any]:
        body = await self._get(path, params)
        if not isinstance(body, list):
            raise PsaBadResponse(f"GET {path}: expected a JSON array, got {type(body).__name__}",
                                 integration=self.name)
        return body

    async def _statuses(self) -> Page:
        """Ticket statuses with their closed flag: a status row says nothing of it (no
        ``isclosed`` in the vendor's TStatus schema), so the closed ones are those
        ``excludeclosed=true`` leaves out (a query parameter of ``GET /Status`` in the spec)."""
        every = await self._bare("Status", {"type": "ticket"})
        still_open = await self._bare("Status", {"type": "ticket", "excludeclosed": "true"})
        open_ids = {str(d.get("id")).strip() for d in still_open if isinstance(d, Mapping)}
        return translate_page(Entity.TICKET_STATUS, every, lambda d: _status(d, open_ids))

    def _pages(self, listing: Listing, extra: Mapping[str, str] | None = None,
               ) -> NumberedListing:
        """Every row of ``listing`` in id order, pages read several at a time, each id once;
        ``record_count`` on every page tells whether the list held still."""
        async def read(number: int) -> NumberedPage:
            params = {**listing.params, **(extra or {}), "pageinate": "true",
                      "page_size": str(self.page_size), "page_no": str(number),
                      "order": "id", "orderdesc": "false"}
            items, total = _envelope(await self._get(listing.path, params), listing, self.name)
            report_total(total)
            return NumberedPage(items, total, None)

        return NumberedListing(read, ahead=self.integration.max_concurrency)

    # -- sync ----------------------------------------------------------------------------

    def fetch(self, entity: Entity, *, since: datetime | None = None) -> AsyncIterator[Page]:
        if entity is Entity.COMPANY:
            self._clients_read.clear()  # now, so a sites fetch starting next waits for it
            return self._fetch_clients(since)
        return self._fetch(entity, since)

    async def _fetch(self, entity: Entity, since: datetime | None) -> AsyncIterator[Page]:
        if entity is Entity.COMPANY_STATUS:
            yield Page([ACTIVE, INACTIVE])
        elif entity is Entity.BOARD:
            yield translate_page(entity, await self._bare("Team"), _team)
        elif entity is Entity.PRIORITY:
            yield _priorities(await self._bare("Priority"))
        elif entity is Entity.TICKET_STATUS:
            yield await self._statuses()
        elif entity is Entity.SITE:
            main_sites = await self._main_sites()
            listing = self._pages(LISTINGS[entity])
            async for items in listing:
                yield await translated(entity, items, lambda d: _site(d, main_sites))
            if not listing.stable:
                yield Page([], listing_changed=True)
        else:
            extra = ({"lastupdatefromdate": halo_timestamp(since)}
                     if since is not None and entity in self.incremental else {})
            parse = self._parsers()[entity]
            listing = self._pages(LISTINGS[entity], extra)
            async for items in listing:
                yield await translated(entity, items, parse)
            if not listing.stable:
                yield Page([], listing_changed=True)

    async def count(self, entity: Entity) -> int | None:
        """``record_count`` of a one-row page: the same rows ``list_ids`` would list."""
        listing = LISTINGS.get(entity)
        if entity not in self.incremental or listing is None:
            return None
        params = {**listing.params, "pageinate": "true", "page_size": "1", "page_no": "1"}
        _, total = _envelope(await self._get(listing.path, params), listing, self.name)
        return total

    async def list_ids(self, entity: Entity) -> AsyncIterator[Sequence[str]]:
        listing = LISTINGS.get(entity)
        if listing is None:
            async for page in self.fetch(entity):
                yield [r.psa_id for r in page.records] + [r.psa_id for r in page.rejected
                                                          if r.psa_id]
            return
        body = await self._get(listing.path, {**listing.params, "idonly": "true"})
        items, total = _envelope(body, listing, self.name)
        ids = _ids(items)
        if total is None or len(ids) >= total:
            for start in range(0, len(ids), ID_CHUNK):
                yield ids[start:start + ID_CHUNK]
            return
        paged = self._pages(listing)
        async for items in paged:
            yield _ids(items)
        if not paged.stable:
            raise PsaListingChanged(f"GET {listing.path}: the list kept changing while its ids "
                                    "were read; deletions are swept at the next run",
                                    integration=self.name)

    async def _fetch_clients(self, since: datetime | None) -> AsyncIterator[Page]:
        """Companies, noting each client's main site for the sites fetch of this run."""
        try:
            noted: dict[str, str] = {}
            extra = {"lastupdatefromdate": halo_timestamp(since)} if since is not None else {}
            listing = self._pages(LISTINGS[Entity.COMPANY], extra)
            async for items in listing:
                noted.update(_main_site_ids(items))
                yield await translated(Entity.COMPANY, items, _client)
            if not listing.stable:
                yield Page([], listing_changed=True)
            self._main_site_of = noted if since is None and listing.stable else None
        finally:
            self._clients_read.set()

    async def _main_sites(self) -> dict[str, str]:
        """Client id → main site id, the only place Halo says which site is primary:
        what a full companies fetch of this run noted (waiting for one in progress),
        else a read of its own (an incremental companies fetch sees changed clients only)."""
        await self._clients_read.wait()
        noted, self._main_site_of = self._main_site_of, None
        if noted is not None:
            return noted
        main: dict[str, str] = {}
        async for items in self._pages(LISTINGS[Entity.COMPANY]):
            main.update(_main_site_ids(items))
        return main

    def _parsers(self) -> dict[Entity, Callable[[Mapping[str, Any]], Record]]:
        cfg = self.integration
        return {
            Entity.ASSET: lambda d: _asset(d, cfg.asset_custom_fields),
            Entity.CONTACT: lambda d: _contact(d, cfg.contact_custom_fields),
        }

    # -- live tickets ------------------------------------------------------------------

    def ticket_link(self, ticket_id: str) -> str:
        return f"{self.root}/tickets?id={ticket_id}"

    async def list_tickets(self, query: TicketQuery) -> TicketPage:
        if query.page < 1:
            raise ValueError("page must be 1 or more")
        if not 1 <= query.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        params = {"pageinate": "true", "page_size": str(query.page_size),
                  "page_no": str(query.page), "order": "id", "orderdesc": "true",
                  "includestatus": "true"}
        for param, label, value in (("client_id", "company", query.company),
                                    ("team", "board", query.board),
                                    ("status_id", "status", query.status),
                                    ("priority", "priority", query.priority)):
            if value is not None:
                if not value.isdigit():
                    raise PsaInvalidId(f"{label} must be a numeric HaloPSA id",
                                       integration=self.name)
                params[param] = value
        if query.text:
            params["search"] = query.text
        items, total = _envelope(await self._get(TICKETS.path, params), TICKETS, self.name)
        if query.page > 1 and total is not None and (query.page - 1) * query.page_size >= total:
            items = []  # past the end: whatever Halo answers there, no tickets
        lookups = await self._ticket_lookups()
        tickets, rejected = translate_tickets(
            items, lambda d: _ticket(d, lookups, self.ticket_link))
        has_more = (query.page * query.page_size < total if total is not None
                    else len(items) == query.page_size)
        return TicketPage(tickets=tickets, page=query.page, page_size=query.page_size,
                          has_more=has_more, total=total, rejected=rejected)

    async def get_ticket(self, ticket_id: str) -> Ticket:
        if not ticket_id.isdigit():
            raise PsaInvalidId("ticket id must be numeric", integration=self.name)
        body = await self._get(f"{TICKETS.path}/{ticket_id}")
        if not isinstance(body, dict) or not body.get("id"):
            raise PsaNotFound(f"HaloPSA has no ticket {ticket_id}", integration=self.name)
        return self._ticket(body, await self._ticket_lookups())

    async def _ticket_lookups(self) -> _Lookups:
        now = time.monotonic()
        if self._lookups is None or now - self._lookups.loaded_at > LOOKUP_TTL:
            statuses = await self._statuses()
            priorities = _priorities(await self._bare("Priority"))
            self._lookups = _Lookups(
                statuses={s.psa_id: (s.name, s.closed) for s in statuses.records
                          if isinstance(s, TicketStatus)},
                priorities={p.psa_id: p.name for p in priorities.records
                            if isinstance(p, Priority)},
                loaded_at=now)
        return self._lookups

    def _ticket(self, item: Any, lookups: _Lookups) -> Ticket:
        try:
            return _ticket(wire.obj(item, "ticket"), lookups, self.ticket_link)
        except BadRecord as err:
            raise PsaBadResponse(f"HaloPSA sent a ticket psad cannot read: {err}",
                                 integration=self.name) from None


# --- envelopes -----------------------------------------------------------------------------


def _root(base_url: str) -> str:
    """``https://host`` (plus any path before ``/api``) from the resource server URL."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    path = path[:-4] if path.lower().endswith("/api") else path
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _envelope(body: Any, listing: Listing, integration: str) -> tuple[list[Any], int | None]:
    """The rows and ``record_count`` of a list answer (a bare array is tolerated)."""
    if isinstance(body, list):
        return body, None
    if isinstance(body, dict):
        items = body.get(listing.key)
        if items is None and not body.get("record_count"):
            items = []
        if isinstance(items, list):
            total = body.get("record_count")
            return items, total if isinstance(total, int) and not isinstance(total, bool) else None
    raise PsaBadResponse(f"GET {listing.path}: expected {{record_count, {listing.key}: [...]}}",
                         integration=integration)


def _main_site_ids(items: Sequence[Any]) -> dict[str, str]:
    main: dict[str, str] = {}
    for item in items:
        try:
            d = wire.obj(item, "client")
            client_id, site_id = wire.psa_id(d), wire.opt_id(d, "main_site_id")
        except BadRecord:
            continue
        if site_id is not None:
            main[client_id] = site_id
    return main


def _ids(items: Sequence[Any]) -> list[str]:
    out = []
    for item in items:
        if isinstance(item, dict):
            try:
                out.append(wire.psa_id(item))
            except BadRecord:
                continue
    return out


def _halo_date(d: Mapping[str, Any], key: str) -> date | None:
    value = wire.opt_date(d, key)
    return value if value is not None and value.year >= FIRST_REAL_YEAR else None


def _halo_datetime(d: Mapping[str, Any], key: str) -> datetime | None:
    value = wire.parse_datetime(d.get(key), key)
    return value if value is not None and value.year >= FIRST_REAL_YEAR else None


def _address(d: Mapping[str, Any], key: str) -> Address:
    """An address object (``line1..line4``, ``postcode``) or the flat ``{key}_line1..5`` form."""
    nested = wire.ref(d, key)
    if nested is not None:
        lines = [wire.opt_text(nested, f"line{n}") for n in range(1, 5)]
        postcode = wire.opt_text(nested, "postcode")
    else:
        lines = [wire.opt_text(d, f"{key}_line{n}") for n in range(1, 5)]
        postcode = wire.opt_text(d, f"{key}_line5")
    return Address(line1=lines[0], line2=lines[1], city=lines[2], region=lines[3],
                   postal_code=postcode)


def _type_fields(d: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """An asset's ``fields[]`` by lower-cased name."""
    raw = d.get("fields") or []
    if not isinstance(raw, list):
        raise BadRecord("fields: expected a list")
    out: dict[str, Mapping[str, Any]] = {}
    for item in raw:
        entry = wire.obj(item, "fields[]")
        name = wire.opt_text(entry, "name")
        if name:
            out.setdefault(name.casefold(), entry)
    return out


def _field_entry(fields: Mapping[str, Mapping[str, Any]], names: Sequence[str],
                 ) -> tuple[str, Mapping[str, Any]] | None:
    for name in names:
        entry = fields.get(name.casefold())
        if entry is not None:
            return name, entry
    return None


def _field_text(fields: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> str | None:
    found = _field_entry(fields, names)
    if found is None:
        return None
    name, entry = found
    try:
        return wire.opt_text(entry, "value") or wire.opt_text(entry, "display")
    except BadRecord as err:
        raise BadRecord(f"fields[{name}].{err}") from None


def _field_date(fields: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> date | None:
    found = _field_entry(fields, names)
    if found is None:
        return None
    name, entry = found
    try:
        return _halo_date(entry, "value")
    except BadRecord as err:
        raise BadRecord(f"fields[{name}].{err}") from None


def _custom(d: Mapping[str, Any], selected: Sequence[str]) -> dict[str, Any]:
    """The selected custom fields, matched on label, name or name without ``CF``."""
    raw = d.get("customfields") or []
    if isinstance(raw, list):
        note_custom_fields(str(e.get("label") or e.get("name")) for e in raw
                           if isinstance(e, dict) and (e.get("label") or e.get("name"))
                           and _custom_value(e) is not None)
    if not selected:
        return {}
    if not isinstance(raw, list):
        raise BadRecord("customfields: expected a list")
    wanted = set(selected)
    pairs: list[tuple[str, Any]] = []
    for item in raw:
        entry = wire.obj(item, "customfields[]")
        aliases = _aliases(entry) & wanted
        if aliases:
            value = _custom_value(entry)
            pairs.extend((alias, value) for alias in aliases)
    return dict(wire.pick_custom(pairs, selected))


def _aliases(entry: Mapping[str, Any]) -> set[str]:
    names = {v for k in ("label", "name") if isinstance(v := entry.get(k), str) and v}
    names |= {n[2:] for n in names if n.startswith("CF") and len(n) > 2}
    return names


def _custom_value(entry: Mapping[str, Any]) -> Any:
    value = entry.get("value")
    if value == "":
        return None
    if isinstance(value, str) and (match := _MIDNIGHT.match(value.strip())):
        return match.group(1)
    return value


# --- records -----------------------------------------------------------------------------------


def _client(d: Mapping[str, Any]) -> Company:
    top_level = wire.opt_text(d, "toplevel_name")
    return Company(
        psa_id=wire.psa_id(d),
        name=wire.text(d, "name"),
        website=wire.opt_text(d, "website"),
        status=INACTIVE.name if wire.flag(d, "inactive") else ACTIVE.name,
        types=(top_level,) if top_level else (),
    )


def _site(d: Mapping[str, Any], main_sites: Mapping[str, str]) -> Site:
    site_id = wire.psa_id(d)
    client_id = wire.opt_id(d, "client_id")
    if client_id is None:
        raise BadRecord("client_id: a site needs a client")
    return Site(
        psa_id=site_id,
        company_psa_id=client_id,
        name=wire.text(d, "name"),
        active=not wire.flag(d, "inactive"),
        primary=main_sites.get(client_id) == site_id,
        address=_address(d, "delivery_address"),
    )


def _asset(d: Mapping[str, Any], selected: Sequence[str]) -> Asset:
    fields = _type_fields(d)
    name = wire.opt_text(d, "inventory_number") or wire.opt_text(d, "key_field")
    if name is None:
        raise BadRecord("inventory_number: an asset needs a name")
    return Asset(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.opt_id(d, "client_id"),
        name=name,
        status=wire.opt_text(d, "status_name"),
        type=wire.opt_text(d, "assettype_name"),
        purchase_date=_field_date(fields, _PURCHASED) or _halo_date(d, "supplier_purchasedate"),
        warranty_expiration=_halo_date(d, "warranty_end"),
        serial_number=_field_text(fields, _SERIAL),
        os_type=_field_text(fields, _OS),
        notes=wire.opt_text(d, "notes"),
        manufacturer=_field_text(fields, _MANUFACTURER) or wire.opt_text(d, "manufacturer_name"),
        custom_fields=_custom(d, selected),
    )


def _contact(d: Mapping[str, Any], selected: Sequence[str]) -> Contact:
    first, last = wire.opt_text(d, "firstname"), wire.opt_text(d, "surname")
    if first is None and last is None:
        first = wire.opt_text(d, "name")
        if first is None:
            raise BadRecord("firstname/surname: a contact needs a name")
    return Contact(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.opt_id(d, "client_id"),
        first_name=first,
        last_name=last,
        type=IMPORTANT_CONTACT if wire.flag(d, "isimportantcontact") else None,
        title=wire.opt_text(d, "title"),
        email=wire.opt_text(d, "emailaddress"),
        phone=wire.opt_text(d, "phonenumber") or wire.opt_text(d, "mobilenumber"),
        address=_address(d, "primary_address"),
        active=not wire.flag(d, "inactive"),
        custom_fields=_custom(d, selected),
    )


def _team(d: Mapping[str, Any]) -> Board:
    return Board(psa_id=wire.psa_id(d), name=wire.text(d, "name"),
                 active=not wire.flag(d, "inactive"))


def _status(d: Mapping[str, Any], open_ids: set[str]) -> TicketStatus:
    status_id = wire.psa_id(d)
    closed = status_id not in open_ids or status_id == CLOSED_STATUS_ID
    return TicketStatus(psa_id=status_id, name=wire.text(d, "name"), board_psa_id=None,
                        closed=closed, sort_order=wire.opt_int(d, "sequence"))


def _priorities(items: Sequence[Any]) -> Page:
    """One record per ``priorityid``: Halo repeats each priority once per SLA."""
    page = translate_page(Entity.PRIORITY, items, _priority)
    unique: dict[str, Record] = {}
    for record in page.records:
        unique.setdefault(record.psa_id, record)
    return Page(list(unique.values()), page.rejected)


def _priority(d: Mapping[str, Any]) -> Priority:
    priority_id = wire.psa_id(d, "priorityid")
    return Priority(psa_id=priority_id, name=wire.text(d, "name"),
                    sort_order=wire.opt_int(d, "priorityid"))


def _ticket(d: Mapping[str, Any], lookups: _Lookups, link: Callable[[str], str]) -> Ticket:
    ticket_id = wire.psa_id(d)
    status_id = wire.opt_id(d, "status_id")
    status_name, status_closed = lookups.statuses.get(status_id or "", (None, False))
    priority_id = wire.opt_id(d, "priority_id")
    return Ticket(
        psa_id=ticket_id,
        summary=wire.opt_text(d, "summary") or "",
        company_psa_id=wire.opt_id(d, "client_id"),
        company_name=wire.opt_text(d, "client_name"),
        board=wire.opt_text(d, "team"),
        status=wire.opt_text(d, "status_name") or status_name,
        priority=wire.opt_text(d, "priority_name") or lookups.priorities.get(priority_id or ""),
        contact=wire.opt_text(d, "user_name"),
        created_at=_halo_datetime(d, "dateoccurred"),
        updated_at=_halo_datetime(d, "lastactiondate") or _halo_datetime(d, "last_update"),
        closed=status_closed or _halo_datetime(d, "dateclosed") is not None,
        url=link(ticket_id),
    )
