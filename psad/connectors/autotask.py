"""Autotask PSA (Datto/Kaseya) REST API v1.0.

``base_url`` is the zone-discovery root, ``https://webservices.autotask.net/ATServicesRest/``
(any zone's root works too). The connector asks it for the API user's zone and
then talks to that zone only.

Wire facts this module relies on, confirmed with public sources (Autotask's
REST OpenAPI specs in api-evangelist/kaseya, Autotask developer help pages,
and clients that have run against the real API: django-autotask,
apigrate/autotask-restapi, n8n-nodes-autotask, KelvinTegelaar/AutotaskAPI):

- Zone discovery ``GET {root}V1.0/zoneInformation?user={username}`` needs no
  auth and answers ``{"url": ".../ATServicesRest/", "webUrl": ...}``; an unknown
  user answers 500 ``{"errors": ["Zone information could not be determined"]}``.
  Zone URLs are ``https://webservices{N}.autotask.net/ATServicesRest/`` (the
  zone-information OpenAPI spec's server, clients' notes); since the answer
  is unauthenticated and then receives the credentials, psad accepts nothing
  else unless the integration's ``zone_hosts`` says so (the simulator, a proxy).
  The zone is cached; a 401 makes the connector look the zone up again (the
  :class:`psad.http.Authenticator` ``refresh`` hook) and, if it moved, retry
  the call once on the new zone (django-autotask re-checks the zone the same way).
- Every call carries ``ApiIntegrationCode``, ``UserName``, ``Secret`` and
  ``Content-Type: application/json`` (optional ``ImpersonationResourceId``).
  Autotask answers 500, not 401, for an unknown user name or integration code,
  and 401 for a wrong secret; error bodies are ``{"errors": ["..."]}``.
- Lists are ``POST {zone}V1.0/{Entity}/query`` with ``{"MaxRecords": 500,
  "IncludeFields": [...], "filter": [...]}`` (a filter is required;
  ``{"op": "gte", "field": "id", "value": 0}`` selects everything); results
  ``{"items", "pageDetails": {"nextPageUrl", ...}}``, at most 500, in id order.
  psad follows ``nextPageUrl`` by POSTing the same body (a GET there is 405).
  Should a next-page URL expire, it continues with ``id gt <last id>``.
- Changed-since filters (op ``gt``, UTC ISO timestamps): Companies
  ``lastTrackedModifiedDateTime`` or ``lastActivityDate``, Contacts
  ``lastModifiedDate`` or ``lastActivityDate`` (an ``or`` group, so either
  stamp moving is enough), ConfigurationItems ``lastModifiedTime``.
  CompanyLocations have no such field: sites are always fetched in full.
- ``GET {Entity}/{id}`` answers ``{"item": null}`` (200) for a missing record.
- Picklists (ticket queues, statuses, priorities; company types) come from
  ``{Entity}/entityInformation/fields``, values as strings; UDF definitions
  from ``{Entity}/entityInformation/userDefinedFields``; records carry UDFs as
  ``userDefinedFields: [{name, value}]``, values as strings.
- Contacts' ``isActive`` is 0/1; Autotask stores and returns all times in UTC.
- Limits: 10,000 requests per rolling hour per Autotask *database*, shared
  with every other integration, with latency injected from 50 % and refusals
  past 100 %; usage is at ``GET V1.0/ThresholdInformation`` →
  ``{"externalRequestThreshold", "requestThresholdTimeframe" (minutes),
  "currentTimeframeRequestCount"}``. psad checks it every 100 requests or
  60 s, spaces its calls to the database's sustainable pace (timeframe /
  threshold) from 50 % and waits from 90 %. At most 3 concurrent requests per
  object endpoint and tracking identifier (a 4th answers 429 "API thread
  threshold of 3 threads has been exceeded"); ``ThresholdInformation`` counts
  as an endpoint, ``zoneInformation`` does not. psad keeps per-endpoint slots
  (one for ``ThresholdInformation``); 429s are retried with back-off by the
  shared client, and a 429 that outlasts its retries forces a usage check
  and one more try.
- Ticket deep link: ``{webUrl}Autotask/AutotaskExtend/ExecuteCommand.aspx?
  Code=OpenTicketDetail&TicketID={id}``. The only system "closed" status is
  Complete (value 5).

Inferred, with the connector tolerant of the alternatives where cheap: the
``zoneName``/``ci`` keys of zone information (unused); timestamps with or
without a zone suffix (read as UTC either way); picklist values as strings or
numbers; ``userDefinedFields`` as a list or a ``{name: value}`` object; UDF
``type`` names (anything with int/double/decimal/number reads as a number,
anything with date as a date; list UDFs read as their labels); whether
``ThresholdInformation`` itself counts against the budget (psad does not
count it); 429s with or without ``Retry-After``.

Vendor gaps and how they are mapped:

- Company status: Autotask has none; psad derives ``Active``/``Inactive`` from
  ``isActive`` and reports those two as the company statuses (Active default).
- Company types: the single ``companyType`` picklist label.
- Sites: CompanyLocations (``isPrimary``, ``isActive``); no custom fields.
- Asset status: only ``isActive`` → ``Active``/``Inactive``. Type is the
  ConfigurationItemTypes name; manufacturer is the CI's product's
  ``manufacturerName``; OS is ``rmmDeviceAuditOperatingSystem``.
- Asset purchase date: no field; read from the UDF named by the
  ``purchase_date_udf`` setting, else left empty.
- Contact type: none (left empty). Contact address: ``addressLine``,
  ``addressLine1``, ``city``, ``state``, ``zipCode``, country name.
- Boards are ticket queues; ticket statuses are global (no board); "closed"
  means Complete plus the labels listed in the ``closed_statuses`` setting.
- Custom fields: UDFs by name; numbers become numbers, dates ISO dates, list
  UDFs their labels (Autotask has no check-box UDF: Yes/No lists are common).
- Live tickets: Autotask cannot sort or skip, so pages run in ticket id order
  (oldest first) and page N is reached with cheap id-only queries; text search
  matches the title (contains) or the exact ticket number.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from psad.connectors import wire
from psad.connectors.base import (Connector, Page, Setting, translate_page, translate_tickets,
                                 translated)
from psad.connectors.paging import chain_ahead, first_then, merged
from psad.connectors.wire import BadRecord
from psad.errors import (
    PsaAuthError,
    PsaBadResponse,
    PsaInvalidId,
    PsaNotFound,
    PsaRateLimited,
)
from psad.model import (
    Address,
    Asset,
    Board,
    Company,
    CompanyStatus,
    Contact,
    CustomFields,
    CustomValue,
    Entity,
    Priority,
    Record,
    RejectedTicket,
    Site,
    Ticket,
    TicketPage,
    TicketQuery,
    TicketStatus,
)
from psad.progress import note_custom_fields, report_total

log = logging.getLogger("psad.connectors.autotask")

MAX_RECORDS: Final = 500
THREADS_PER_ENDPOINT: Final = 3
LOOKUP_TTL: Final = 300.0
ZONE_RECHECK_GAP: Final = 5.0
"""Seconds in which further 401s reuse the last zone re-check."""
ACTIVE: Final = "Active"
INACTIVE: Final = "Inactive"
_KNOWN_ZONES: Final[dict[tuple[str, str], Zone]] = {}
"""(discovery root, API user) → the zone last found, shared by connectors of this process:
a connector rebuilt for the next run (a config reload, ``sync-once`` in a loop) starts
without the serial zone lookup. A moved zone answers 401, which re-checks it."""
COMPLETE_STATUS: Final = "5"
MATCH_ALL: Final = {"op": "gte", "field": "id", "value": 0}
ID_RANGES: Final = 3
"""Id ranges a long list is read in at once: Autotask's per-endpoint thread limit."""
SPLIT_AFTER_PAGES: Final = 4
"""A list is split into id ranges only when this many pages follow the first, so the
count query and the ranges' short last pages buy a real saving in time."""
THRESHOLD_ENDPOINT: Final = "thresholdinformation"

_ENTITIES: Final[dict[Entity, str]] = {
    Entity.COMPANY: "Companies",
    Entity.SITE: "CompanyLocations",
    Entity.ASSET: "ConfigurationItems",
    Entity.CONTACT: "Contacts",
}
_CHANGED: Final[dict[Entity, tuple[str, ...]]] = {
    Entity.COMPANY: ("lastTrackedModifiedDateTime", "lastActivityDate"),
    Entity.ASSET: ("lastModifiedTime",),
    Entity.CONTACT: ("lastModifiedDate", "lastActivityDate"),
}
_TICKET_PICKLISTS: Final[dict[Entity, str]] = {
    Entity.BOARD: "queueid",
    Entity.PRIORITY: "priority",
    Entity.TICKET_STATUS: "status",
}

Json = Mapping[str, Any]
Filter = dict[str, Any]


def at_timestamp(moment: datetime) -> str:
    """UTC with milliseconds, as Autotask writes it: ``2025-01-31T02:00:00.000Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def endpoint_of(url: str) -> str:
    """The lower-case object endpoint of an API URL: ``tickets`` for ``…/V1.0/Tickets/query``."""
    path = urlsplit(url).path
    lowered = path.lower()
    marker = lowered.find("/v1.0/")
    tail = path[marker + 6:] if marker >= 0 else path.strip("/")
    return tail.split("/", 1)[0].lower()


# --- auth and zone ------------------------------------------------------------------------------


VENDOR_ZONE_HOST: Final = re.compile(r"webservices\d*\.autotask\.net")
"""The hosts Autotask's zone answers point at (``webservices5.autotask.net``)."""


def zone_allowed(url: str, zone_hosts: str | None) -> bool:
    """Whether the zone answer ``url`` may receive the API user's credentials.

    By default only https on the vendor's API hosts. ``zone_hosts`` replaces
    that with its comma-separated entries: a host name (https only) or
    ``http://host`` to allow plain http to that host too.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not zone_hosts:
        return parts.scheme == "https" and VENDOR_ZONE_HOST.fullmatch(host) is not None
    for entry in (e.strip().lower() for e in zone_hosts.split(",") if e.strip()):
        scheme, _, name = entry.rpartition("://")
        if host == name and parts.scheme in ({"https", scheme} if scheme else {"https"}):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Zone:
    api: str
    """The zone's REST root, ending in ``/`` (``…/ATServicesRest/``)."""
    web: str | None
    """The zone's UI root, for ticket links."""


class _HeaderAuth:
    """The three Autotask headers; a refused call re-checks the user's zone."""

    def __init__(self, headers: Mapping[str, str],
                 on_refused: Callable[[], Awaitable[None]]) -> None:
        self._headers = dict(headers)
        self._on_refused = on_refused

    async def headers(self) -> Mapping[str, str]:
        return self._headers

    async def refresh(self) -> bool:
        """The credentials cannot be renewed; the zone may have moved (the caller retries)."""
        await self._on_refused()
        return False


# --- the database's request budget ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Threshold:
    limit: int
    timeframe: float
    """Seconds."""
    count: int


class RequestGovernor:
    """Keeps this integration polite within the database's shared hourly threshold.

    Usage is read from ``ThresholdInformation`` every ``check_every`` requests
    or ``check_interval`` seconds and advanced locally in between. From
    ``slow_share`` on, calls are spaced at the database's sustainable pace
    (timeframe / threshold); from ``stop_share`` on, calls wait and re-check
    until usage falls back, for at most ``max_wait`` seconds in a row.
    """

    def __init__(self, check: Callable[[], Awaitable[Threshold]], *, check_every: int = 100,
                 check_interval: float = 60.0, slow_share: float = 0.5, stop_share: float = 0.9,
                 max_wait: float = 3600.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.check = check
        self.check_every = check_every
        self.check_interval = check_interval
        self.slow_share = slow_share
        self.stop_share = stop_share
        self.max_wait = max_wait
        self.clock = clock
        self.sleep = sleep
        self.status: Threshold | None = None
        self.checked_at = 0.0
        self.since_check = 0
        self.forced = False
        self.next_at = 0.0
        self._lock = asyncio.Lock()

    def force_check(self) -> None:
        self.forced = True

    def _due(self) -> bool:
        return (self.status is None or self.forced or self.since_check >= self.check_every
                or self.clock() - self.checked_at >= self.check_interval)

    async def _refresh(self) -> Threshold:
        async with self._lock:
            if self.status is None or self._due():
                self.status = await self.check()
                self.checked_at = self.clock()
                self.since_check = 0
                self.forced = False
        assert self.status is not None
        return self.status

    async def acquire(self) -> None:
        """Wait as long as this request should, then count it."""
        stalled = 0.0
        while True:
            status = self.status if not self._due() else await self._refresh()
            assert status is not None
            share = (status.count + self.since_check) / max(status.limit, 1)
            if share >= self.stop_share and stalled < self.max_wait:
                if stalled == 0:
                    log.warning("Autotask database at %.0f%% of its %d-request threshold; "
                                "pausing until usage falls", share * 100, status.limit)
                pause = min(self.check_interval, self.max_wait - stalled)
                stalled += pause
                self.forced = True
                await self.sleep(pause)
                continue
            self.since_check += 1
            if share >= self.slow_share:
                await self._pace(status.timeframe / max(status.limit, 1))
            return

    async def _pace(self, interval: float) -> None:
        """Space request starts ``interval`` apart, across every caller of this governor."""
        now = self.clock()
        delay = self.next_at - now
        self.next_at = max(now, self.next_at) + interval
        if delay > 0:
            await self.sleep(delay)


# --- UDFs -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UdfDef:
    kind: str
    """"number", "date" or "text"."""
    labels: Mapping[str, str]
    """List UDFs: stored value → label."""


def _udf_kind(type_name: str) -> str:
    lowered = type_name.lower()
    if any(word in lowered for word in ("int", "double", "decimal", "number", "float", "long",
                                        "currency", "percent")):
        return "number"
    return "date" if "date" in lowered else "text"


def _udf_defs(body: Any) -> dict[str, UdfDef]:
    fields = wire.obj(body, "userDefinedFields").get("fields") or []
    if not isinstance(fields, list):
        raise BadRecord("fields: expected a list")
    out: dict[str, UdfDef] = {}
    for item in fields:
        d = wire.obj(item, "fields[]")
        name = wire.opt_text(d, "name")
        if name is None:
            continue
        labels = {str(v.get("value")): str(v.get("label")) for v in d.get("picklistValues") or []
                  if isinstance(v, dict) and v.get("label") is not None}
        out[name] = UdfDef(_udf_kind(str(d.get("type") or "")), labels)
    return out


def _udf_pairs(d: Json) -> list[tuple[str, Any]]:
    raw = d.get("userDefinedFields")
    if raw is None or raw == "":
        return []
    if isinstance(raw, dict):
        return list(raw.items())
    if not isinstance(raw, list):
        raise BadRecord("userDefinedFields: expected a list")
    return [(str(f["name"]), f.get("value")) for f in raw
            if isinstance(f, dict) and f.get("name") is not None]


def _number(text: str, where: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        raise BadRecord(f"{where}: not a number ({text[:30]!r})") from None
    return int(value) if value.is_integer() and "e" not in text.lower() else value


def udf_value(name: str, value: Any, definition: UdfDef | None) -> CustomValue:
    where = f"user-defined field {name!r}"
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        raise BadRecord(f"{where}: unsupported value {type(value).__name__}")
    if definition is None:
        return wire.custom_value(value, where)
    text = str(value).strip()
    if definition.labels:
        return definition.labels.get(text, text)
    if definition.kind == "number":
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) \
            else _number(text, where)
    if definition.kind == "date":
        parsed = wire.opt_date({where: text}, where)
        return parsed.isoformat() if parsed else None
    return wire.custom_value(text, where)


def _custom(pairs: Sequence[tuple[str, Any]], selected: Sequence[str],
            defs: Mapping[str, UdfDef]) -> CustomFields:
    note_custom_fields(n for n, v in pairs if v not in (None, ""))
    if not selected:
        return {}
    values = [(n, udf_value(n, v, defs.get(n))) for n, v in pairs if n in selected]
    return dict(wire.pick_custom(values, selected))


# --- lookups 


@dataclass(frozen=True, slots=True)
class Lookups:
    """Names that Autotask records carry only as ids."""

    countries: Mapping[str, str] | None = None
    company_types: Mapping[str, str] | None = None
    ci_types: Mapping[str, str] | None = None
    products: Mapping[str, str] | None = None
    udfs: Mapping[str, UdfDef] | None = None


def ref(d: Json, key: str) -> str | None:
    """An id reference; unlike :func:`wire.opt_id`, 0 is a real id (the MSP's own company)."""
    return None if d.get(key) is None else wire.psa_id(d, key)


def _name(names: Mapping[str, str] | None, d: Json, key: str) -> str | None:
    value = ref(d, key)
    if value is None or names is None:
        return None
    return names.get(value)


def _picklist(fields: Mapping[str, list[Json]], name: str) -> list[Json]:
    return fields.get(name.lower(), [])


def _labels(entries: Iterable[Json]) -> dict[str, str]:
    return {str(e.get("value")): str(e.get("label")) for e in entries
            if e.get("value") is not None and e.get("label") is not None}


# --- the connector --------------------------------------------------------------------------------


_Next = tuple[str, dict[str, Any], int]
"""Where the next page is: its URL, the query body it must be POSTed with (the one
that produced it), and the last id read so far."""


class AutotaskConnector(Connector):
    kind = "autotask"
    settings = (
        Setting("username", "the API user's user name (an e-mail address)"),
        Setting("secret", "the API user's secret", secret=True),
        Setting("integration_code", "the API tracking identifier (ApiIntegrationCode) of the "
                "API user", secret=True),
        Setting("impersonation_resource_id", "a resource id to act as (ImpersonationResourceId)",
                required=False),
        Setting("purchase_date_udf", "name of the configuration-item UDF holding the purchase "
                "date (Autotask has no purchase date field)", required=False),
        Setting("closed_statuses", "comma-separated ticket status labels that count as closed "
                "besides Complete", required=False),
        Setting("zone_hosts", "comma-separated hosts the zone lookup may send psad to, instead "
                "of https://webservices*.autotask.net (``http://host`` allows plain http; for "
                "the simulator or a proxy)", required=False),
    )
    incremental = frozenset(_CHANGED)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.integration
        self.username = cfg.settings["username"]
        headers = {"ApiIntegrationCode": self.secrets["integration_code"],
                   "UserName": self.username, "Secret": self.secrets["secret"],
                   "Content-Type": "application/json"}
        if impersonate := cfg.settings.get("impersonation_resource_id"):
            headers["ImpersonationResourceId"] = impersonate
        self.auth = _HeaderAuth(headers, self._recheck_zone)
        self.page_size = min(cfg.page_size or MAX_RECORDS, MAX_RECORDS)
        self.purchase_udf = cfg.settings.get("purchase_date_udf") or None
        self.closed_labels = frozenset(
            label.strip().casefold()
            for label in (cfg.settings.get("closed_statuses") or "").split(",") if label.strip())
        self.governor = RequestGovernor(self._threshold)
        self.zone: Zone | None = None
        self._zone_lock = asyncio.Lock()
        self._zone_checked_at = -ZONE_RECHECK_GAP
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._cache: dict[str, tuple[float, asyncio.Future[Any]]] = {}

    # -- zone ----------------------------------------------------------------------------------

    @property
    def _zone_key(self) -> tuple[str, str]:
        return _slash(self.integration.base_url), self.username

    async def current_zone(self) -> Zone:
        if self.zone is None:
            async with self._zone_lock:
                if self.zone is None:
                    self.zone = _KNOWN_ZONES.get(self._zone_key) or await self._lookup_zone()
                    _KNOWN_ZONES[self._zone_key] = self.zone
        return self.zone

    async def _lookup_zone(self) -> Zone:
        url = _slash(self.integration.base_url) + "V1.0/zoneInformation"
        response = await self.client.request("GET", url, params={"user": self.username},
                                             allow_statuses=frozenset({500}))
        if response.status == 500:
            raise PsaAuthError(f"Autotask found no zone for API user {self.username!r}: "
                               f"{_errors(response.body)}", integration=self.name, url=url)
        try:
            body = wire.obj(response.body, "zoneInformation")
            api = wire.text(body, "url")
            web = wire.opt_text(body, "webUrl")
        except BadRecord as err:
            raise PsaBadResponse(f"GET zoneInformation: {err}", integration=self.name,
                                 url=url) from None
        zone_hosts = self.integration.settings.get("zone_hosts")
        if not zone_allowed(api, zone_hosts):
            allowed = zone_hosts or "https://webservices*.autotask.net"
            raise PsaAuthError(f"GET zoneInformation: the zone {api!r} is not on {allowed}; "
                               "psad sends no credentials there (zone_hosts overrides)",
                               integration=self.name, url=url)
        return Zone(_slash(api), _slash(web) if web else None)

    async def _recheck_zone(self) -> None:
        """Look the zone up again, once for a burst of concurrent 401s."""
        async with self._zone_lock:
            if time.monotonic() - self._zone_checked_at < ZONE_RECHECK_GAP:
                return
            fresh = await self._lookup_zone()
            self._zone_checked_at = time.monotonic()
            if fresh != self.zone:
                log.info("integration=%s Autotask zone moved to %s", self.name, fresh.api)
                self.zone = _KNOWN_ZONES[self._zone_key] = fresh

    # -- transport ---------------------------------------------------------------------------------

    @asynccontextmanager
    async def _slot(self, endpoint: str) -> AsyncIterator[None]:
        slot = self._slots.get(endpoint)
        if slot is None:
            limit = 1 if endpoint == THRESHOLD_ENDPOINT else THREADS_PER_ENDPOINT
            slot = self._slots[endpoint] = asyncio.Semaphore(limit)
        async with slot:
            yield

    async def _call(self, method: str, path: str, *, body: Any = None,
                    params: Mapping[str, Any] | None = None) -> Any:
        """One API call; ``path`` is relative to the zone's ``V1.0/`` or an absolute URL."""
        for attempt in (0, 1):
            zone = await self.current_zone()
            url = path if path.startswith(("http://", "https://")) else f"{zone.api}V1.0/{path}"
            try:
                await self.governor.acquire()
                async with self._slot(endpoint_of(url)):
                    response = await self.client.request(method, url, json_body=body,
                                                         params=params, auth=self.auth)
                return response.body
            except PsaAuthError:
                if attempt or self.zone == zone or self.zone is None:
                    raise
                if path.startswith(zone.api):
                    path = self.zone.api + path[len(zone.api):]
            except PsaRateLimited:
                if attempt:
                    raise
                self.governor.force_check()
        raise AssertionError("unreachable")

    async def _threshold(self) -> Threshold:
        zone = await self.current_zone()
        url = f"{zone.api}V1.0/ThresholdInformation"
        async with self._slot(THRESHOLD_ENDPOINT):
            response = await self.client.request("GET", url, auth=self.auth,
                                                 allow_statuses=frozenset({500}))
        if response.status == 500:
            raise PsaAuthError(f"Autotask refused the API user or integration code: "
                               f"{_errors(response.body)}", integration=self.name, url=url)
        try:
            body = wire.obj(response.body, "ThresholdInformation")
            limit = wire.opt_int(body, "externalRequestThreshold") or 10_000
            minutes = wire.opt_int(body, "requestThresholdTimeframe") or 60
            count = wire.opt_int(body, "currentTimeframeRequestCount") or 0
        except BadRecord as err:
            log.warning("integration=%s unreadable ThresholdInformation (%s); assuming no usage",
                        self.name, err)
            return Threshold(10_000, 3600.0, 0)
        return Threshold(limit, minutes * 60.0, count)

    async def _query(self, entity: str, filters: list[Filter], *, size: int,
                     include: Sequence[str] = ()) -> tuple[list[Any], str | None]:
        body: dict[str, Any] = {"MaxRecords": size}
        if include:
            body["IncludeFields"] = list(include)
        body["filter"] = filters
        return _query_result(await self._call("POST", f"{entity}/query", body=body), entity)

    def _reader(self, entity: str, filters: list[Filter], include: Sequence[str],
                ) -> Callable[[_Next | None], Awaitable[tuple[list[Any], _Next | None]]]:
        """Reads one page of a query: the first for ``None``, else where ``nextPageUrl``
        pointed. A refused (expired) ``nextPageUrl`` is replaced by the same query for
        ids past the last one read."""
        body: dict[str, Any] = {"MaxRecords": self.page_size}
        if include:
            body["IncludeFields"] = list(include)
        body["filter"] = filters
        first = f"{entity}/query"

        async def read(cursor: _Next | None) -> tuple[list[Any], _Next | None]:
            path, sent, last_id = cursor or (first, body, -1)
            try:
                result = await self._call("POST", path, body=sent)
            except (PsaBadResponse, PsaNotFound) as err:
                status = getattr(err, "status", 404)
                if path == first or status not in (400, 404, 405, 410):
                    raise
                log.warning("integration=%s %s next page refused (%s); continuing by id",
                            self.name, entity, err)
                sent = {**body, "filter": [*filters, {"op": "gt", "field": "id",
                                                      "value": last_id}]}
                result = await self._call("POST", first, body=sent)
            items, next_url = _query_result(result, entity)
            ids = [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), int)]
            return items, (next_url, sent, max(ids, default=last_id)) if next_url else None

        return read

    async def _pages(self, entity: str, filters: list[Filter], *, include: Sequence[str] = (),
                     count_first: bool = False,
                     on_total: Callable[[int | None], None] | None = None,
                     ) -> AsyncIterator[list[Any]]:
        """Every matching item, one upstream page at a time.

        ``nextPageUrl`` makes a list a chain, one page after another. A list that
        goes on for more than :data:`SPLIT_AFTER_PAGES` pages after the first is read as
        :data:`ID_RANGES` id ranges at once (Autotask serves three requests at a time
        per endpoint), each range a chain of its own: ranges of ids cover every
        record exactly once whatever moves meanwhile, and cost one count query plus
        a short last page per extra range. With ``count_first`` (the synced lists,
        long at a large MSP) the count goes out beside the first page, so the
        ranges start when it arrives; otherwise it is asked only when a second
        page exists. The ranges (or the chain) are on their way before the first
        page is handed on. ``on_total`` hears the list's length once it is known.
        """
        read = self._reader(entity, filters, include)
        counting = asyncio.ensure_future(self._count(entity, filters)) if count_first else None
        try:
            items, cursor = await read(None)
            if not items:
                return
            if cursor is None:
                if on_total:
                    on_total(len(items))
                yield items
                return
            if counting is None:
                counting = asyncio.ensure_future(self._count(entity, filters))
            total = await counting
            if on_total:
                on_total(total)
            ranges = self._id_ranges(items, total)
        finally:
            if counting is not None:
                counting.cancel()
                await asyncio.gather(counting, return_exceptions=True)
        rest = chain_ahead(read, cursor) if ranges is None else merged(
            [chain_ahead(self._reader(entity, [*filters, *bounds], include))
             for bounds in ranges])
        async for page in first_then(items, rest):
            yield page

    async def _count(self, entity: str, filters: list[Filter]) -> int | None:
        """How many items match ``filters``; None when the count query is refused."""
        try:
            body = await self._call("POST", f"{entity}/query/count", body={"filter": filters})
        except (PsaBadResponse, PsaNotFound) as err:
            log.warning("integration=%s %s count refused (%s); reading one page at a time",
                        self.name, entity, err)
            return None
        count = body.get("queryCount") if isinstance(body, dict) else None
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    def _id_ranges(self, first: list[Any], total: int | None) -> list[list[Filter]] | None:
        """Id bounds splitting what is left after ``first`` into ranges of about equal
        size (judged by how dense ids were on the first page); None when it is short."""
        ids = [i["id"] for i in first if isinstance(i, dict) and isinstance(i.get("id"), int)]
        if total is None or len(ids) < 2:
            return None
        left = total - len(first)
        if left <= SPLIT_AFTER_PAGES * self.page_size:
            return None
        low, high = min(ids), max(ids)
        span = (high - low + 1) * left / len(ids)
        cuts = [high + max(1, round(span * n / ID_RANGES)) for n in range(1, ID_RANGES)]
        edges = [high, *sorted(set(cuts))]
        ranges: list[list[Filter]] = [
            [{"op": "gt", "field": "id", "value": lo}, {"op": "lte", "field": "id", "value": hi}]
            for lo, hi in zip(edges, edges[1:])]
        ranges.append([{"op": "gt", "field": "id", "value": edges[-1]}])
        return ranges

    async def _all(self, entity: str, filters: list[Filter] | None = None,
                   include: Sequence[str] = ()) -> list[Any]:
        items: list[Any] = []
        async for page in self._pages(entity, filters or [MATCH_ALL], include=include):
            items.extend(page)
        return items

    async def _cached(self, key: str, load: Callable[[], Awaitable[Any]], fresh: bool) -> Any:
        """``load()``'s result, kept :data:`LOOKUP_TTL` seconds (``fresh`` asks anew);
        callers that ask while it is loading share the one request, ``fresh`` ones
        too: entities' lanes start together and all want this run's answer."""
        hit = self._cache.get(key)
        stale = (hit is None or time.monotonic() - hit[0] >= LOOKUP_TTL
                 or (hit[1].done() and (hit[1].cancelled() or hit[1].exception() is not None)))
        if stale or (fresh and hit is not None and hit[1].done()):
            loading = asyncio.ensure_future(load())
            loading.add_done_callback(lambda f: f.cancelled() or f.exception())
            hit = self._cache[key] = (time.monotonic(), loading)
        assert hit is not None
        return await asyncio.shield(hit[1])

    # -- lookups 

    async def picklists(self, entity: str, *, fresh: bool = False) -> dict[str, list[Json]]:
        """``{field name (lower case): picklist entries}`` of ``entity``."""
        async def load() -> dict[str, list[Json]]:
            body = await self._call("GET", f"{entity}/entityInformation/fields")
            fields = body.get("fields") if isinstance(body, dict) else None
            if not isinstance(fields, list):
                raise PsaBadResponse(f"GET {entity}/entityInformation/fields: no fields list",
                                     integration=self.name)
            out: dict[str, list[Json]] = {}
            for field in fields:
                if isinstance(field, dict) and field.get("isPickList") and field.get("name"):
                    values = field.get("picklistValues") or []
                    out[str(field["name"]).lower()] = [v for v in values if isinstance(v, dict)]
            return out
        result: dict[str, list[Json]] = await self._cached(f"fields:{entity}", load, fresh)
        return result

    async def _udfs(self, entity: str, selected: Sequence[str]) -> dict[str, UdfDef]:
        if not selected:
            return {}
        body = await self._call("GET", f"{entity}/entityInformation/userDefinedFields")
        try:
            return _udf_defs(body)
        except BadRecord as err:
            raise PsaBadResponse(f"GET {entity}/entityInformation/userDefinedFields: {err}",
                                 integration=self.name) from None

    async def _names(self, entity: str, label: Callable[[Json], str | None]) -> dict[str, str]:
        names: dict[str, str] = {}
        for item in await self._all(entity):
            if isinstance(item, dict) and item.get("id") is not None:
                if (name := label(item)) is not None:
                    names[str(item["id"])] = name
        return names

    async def _countries(self) -> dict[str, str]:
        countries: dict[str, str] = await self._cached("countries", lambda: self._names(
            "Countries", lambda c: wire.opt_text(c, "displayName") or wire.opt_text(c, "name")),
            fresh=False)
        return countries

    async def _names_for(self, entity: str, ids: Iterable[str], fields: Sequence[str],
                         label: Callable[[Json], str | None]) -> dict[str, str]:
        """Names of the records ``ids`` of ``entity``, 500 ids per query."""
        wanted = sorted({int(i) for i in ids if i.isdigit()})
        names: dict[str, str] = {}
        for start in range(0, len(wanted), MAX_RECORDS):
            chunk = wanted[start:start + MAX_RECORDS]
            items, _ = await self._query(entity, [{"op": "in", "field": "id", "value": chunk}],
                                         size=MAX_RECORDS, include=("id", *fields))
            for item in items:
                if isinstance(item, dict) and item.get("id") is not None:
                    if (name := label(item)) is not None:
                        names[str(item["id"])] = name
        return names

    async def _lookups(self, entity: Entity) -> Lookups:
        cfg = self.integration
        if entity is Entity.COMPANY:
            types = _picklist(await self.picklists("Companies", fresh=True), "companyType")
            return Lookups(company_types=_labels(types))
        if entity is Entity.SITE:
            return Lookups(countries=await self._countries())
        if entity is Entity.ASSET:
            ci_types, udfs = await asyncio.gather(
                self._names("ConfigurationItemTypes", lambda t: wire.opt_text(t, "name")),
                self._udfs("ConfigurationItems", cfg.asset_custom_fields))
            return Lookups(ci_types=ci_types, products={}, udfs=udfs)
        countries, udfs = await asyncio.gather(
            self._countries(), self._udfs("Contacts", cfg.contact_custom_fields))
        return Lookups(countries=countries, udfs=udfs)

    async def close(self) -> None:
        """Lookups still loading for a caller that went away end with the connector."""
        loading = [f for _, f in self._cache.values() if not f.done()]
        for future in loading:
            future.cancel()
        await asyncio.gather(*loading, return_exceptions=True)

    # -- sync 

    def changed_filter(self, entity: Entity, since: datetime) -> list[Filter]:
        stamp = at_timestamp(since)
        terms: list[Filter] = [{"op": "gt", "field": f, "value": stamp} for f in _CHANGED[entity]]
        return terms if len(terms) == 1 else [{"op": "or", "items": terms}]

    async def fetch(self, entity: Entity, *, since: datetime | None = None) -> AsyncIterator[Page]:
        if entity is Entity.COMPANY_STATUS:
            yield Page([CompanyStatus(psa_id="active", name=ACTIVE, is_default=True),
                        CompanyStatus(psa_id="inactive", name=INACTIVE, is_default=False)])
            return
        if entity in _TICKET_PICKLISTS:
            fields = await self.picklists("Tickets", fresh=True)
            yield translate_page(entity, fields.get(_TICKET_PICKLISTS[entity], []),
                                 self._picklist_parser(entity), id_keys=("id", "value"))
            return
        name = _ENTITIES[entity]
        filters = (self.changed_filter(entity, since)
                   if since is not None and entity in self.incremental else [MATCH_ALL])
        loading = asyncio.ensure_future(self._lookups(entity))  # alongside the first page
        try:
            async for items in self._pages(name, filters, count_first=True,
                                           on_total=report_total):
                lookups = await loading
                if entity is Entity.ASSET:
                    await self._add_products(items, lookups)
                yield await translated(entity, items, self._parser(entity, lookups),
                                       id_keys=("id", "value"))
        finally:
            loading.cancel()
            await asyncio.gather(loading, return_exceptions=True)

    async def _add_products(self, items: Sequence[Any], lookups: Lookups) -> None:
        known = lookups.products
        assert isinstance(known, dict)
        ids = {str(i["productID"]) for i in items if isinstance(i, dict)
               and isinstance(i.get("productID"), int) and str(i["productID"]) not in known}
        if ids:
            known.update(await self._names_for(
                "Products", ids, ("manufacturerName",),
                lambda p: wire.opt_text(p, "manufacturerName")))

    async def count(self, entity: Entity) -> int | None:
        """One ``query/count`` over everything ``list_ids`` would list."""
        if entity not in self.incremental or entity not in _ENTITIES:
            return None
        return await self._count(_ENTITIES[entity], [MATCH_ALL])

    async def list_ids(self, entity: Entity) -> AsyncIterator[Sequence[str]]:
        if entity in _ENTITIES:
            async for items in self._pages(_ENTITIES[entity], [MATCH_ALL], include=("id",),
                                           count_first=True):
                yield [str(i["id"]) for i in items if isinstance(i, dict) and "id" in i]
            return
        async for page in self.fetch(entity):
            yield [r.psa_id for r in page.records] + [r.psa_id for r in page.rejected if r.psa_id]

    def _parser(self, entity: Entity, lk: Lookups) -> Callable[[Json], Record]:
        cfg = self.integration
        parsers: dict[Entity, Callable[[Json], Record]] = {
            Entity.COMPANY: lambda d: _company(d, lk),
            Entity.SITE: lambda d: _site(d, lk),
            Entity.ASSET: lambda d: _asset(d, lk, cfg.asset_custom_fields, self.purchase_udf),
            Entity.CONTACT: lambda d: _contact(d, lk, cfg.contact_custom_fields),
        }
        return parsers[entity]

    def _picklist_parser(self, entity: Entity) -> Callable[[Json], Record]:
        if entity is Entity.BOARD:
            return _board
        if entity is Entity.PRIORITY:
            return _priority
        return lambda d: _ticket_status(d, self.closed_labels)

    # -- live tickets 

    def ticket_link(self, ticket_id: str) -> str | None:
        if self.zone is None or self.zone.web is None:
            return None
        return (f"{self.zone.web}Autotask/AutotaskExtend/ExecuteCommand.aspx"
                f"?Code=OpenTicketDetail&TicketID={ticket_id}")

    @staticmethod
    def ticket_filters(query: TicketQuery) -> list[Filter]:
        """The Autotask filter for ``query``; raises PsaInvalidId for an id of the wrong shape."""
        filters: list[Filter] = []
        for label, field, value in (("company", "companyID", query.company),
                                    ("board", "queueID", query.board),
                                    ("status", "status", query.status),
                                    ("priority", "priority", query.priority)):
            if value is None:
                continue
            if not value.isdigit():
                raise PsaInvalidId(f"{label} must be a numeric Autotask id")
            filters.append({"op": "eq", "field": field, "value": int(value)})
        if query.text is not None and query.text.strip():
            text = query.text.strip()
            filters.append({"op": "or", "items": [
                {"op": "contains", "field": "title", "value": text},
                {"op": "eq", "field": "ticketNumber", "value": text}]})
        return filters or [MATCH_ALL]

    async def list_tickets(self, query: TicketQuery) -> TicketPage:
        if query.page < 1:
            raise ValueError("page must be 1 or more")
        if not 1 <= query.page_size <= MAX_RECORDS:
            raise ValueError(f"page_size must be between 1 and {MAX_RECORDS}")
        filters = self.ticket_filters(query)
        reached, start_after = await self._skip("Tickets", filters,
                                                (query.page - 1) * query.page_size)
        if not reached:
            return TicketPage((), query.page, query.page_size, has_more=False)
        window = filters if start_after is None else [
            *filters, {"op": "gt", "field": "id", "value": start_after}]
        items, _ = await self._query("Tickets", window, size=min(query.page_size + 1, MAX_RECORDS))
        has_more = len(items) > query.page_size
        tickets, rejected = await self._tickets(items[:query.page_size])
        if query.page_size == MAX_RECORDS and not has_more:
            has_more = len(items) == MAX_RECORDS
        return TicketPage(tickets, query.page, query.page_size, has_more=has_more,
                          rejected=rejected)

    async def _skip(self, entity: str, filters: list[Filter],
                    count: int) -> tuple[bool, int | None]:
        """Skip ``count`` matches with id-only queries (Autotask has no offset).

        Returns whether there were that many, and the id the wanted window starts after.
        """
        after: int | None = None
        while count > 0:
            window = filters if after is None else [
                *filters, {"op": "gt", "field": "id", "value": after}]
            size = min(count, MAX_RECORDS)
            items, _ = await self._query(entity, window, size=size, include=("id",))
            ids = [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), int)]
            if len(ids) < size:
                return False, None
            after = max(ids)
            count -= len(ids)
        return True, after

    async def get_ticket(self, ticket_id: str) -> Ticket:
        if not ticket_id.isdigit():
            raise PsaInvalidId("ticket id must be numeric", integration=self.name)
        body = await self._call("GET", f"Tickets/{ticket_id}")
        item = body.get("item") if isinstance(body, dict) else None
        if item is None:
            raise PsaNotFound(f"Autotask has no ticket {ticket_id}", integration=self.name)
        tickets, rejected = await self._tickets([item])
        if rejected:
            raise PsaBadResponse(f"GET Tickets/{ticket_id}: {rejected[0].reason}",
                                 integration=self.name)
        return tickets[0]

    async def _tickets(self, items: Sequence[Any]
                       ) -> tuple[tuple[Ticket, ...], tuple[RejectedTicket, ...]]:
        records = [i for i in items if isinstance(i, dict)]
        fields = await self.picklists("Tickets")
        companies = {c for r in records if (c := ref(r, "companyID")) is not None}
        contacts = {c for r in records if (c := ref(r, "contactID")) is not None}
        company_names, contact_names = await asyncio.gather(
            self._names_for("Companies", companies, ("companyName",),
                            lambda c: wire.opt_text(c, "companyName")),
            self._names_for("Contacts", contacts, ("firstName", "lastName"), _person))
        labels = {name: _labels(_picklist(fields, name))
                  for name in ("queueID", "status", "priority")}
        return translate_tickets(
            items, lambda r: self._ticket(r, labels, company_names, contact_names))

    def _ticket(self, d: Json, labels: Mapping[str, Mapping[str, str]],
                companies: Mapping[str, str], contacts: Mapping[str, str]) -> Ticket:
        ticket_id = wire.psa_id(d)
        status = ref(d, "status")
        status_label = labels["status"].get(status) if status else None
        company = ref(d, "companyID")
        contact = ref(d, "contactID")
        return Ticket(
            psa_id=ticket_id,
            summary=wire.opt_text(d, "title") or "",
            company_psa_id=company,
            company_name=companies.get(company) if company is not None else None,
            board=_name(labels["queueID"], d, "queueID"),
            status=status_label,
            priority=_name(labels["priority"], d, "priority"),
            contact=contacts.get(contact) if contact is not None else None,
            created_at=wire.parse_datetime(d.get("createDate"), "createDate"),
            updated_at=wire.parse_datetime(d.get("lastActivityDate"), "lastActivityDate"),
            closed=d.get("completedDate") not in (None, "") or status == COMPLETE_STATUS
            or (status_label or "").casefold() in self.closed_labels,
            url=self.ticket_link(ticket_id),
        )


# --- wire → model 


def _errors(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return "; ".join(str(e) for e in body["errors"][:3]) or "no detail"
    return str(body)[:200] if body else "no detail"


def _query_result(body: Any, entity: str) -> tuple[list[Any], str | None]:
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise PsaBadResponse(f"POST {entity}/query: expected {{items, pageDetails}}")
    details = body.get("pageDetails")
    next_url = details.get("nextPageUrl") if isinstance(details, dict) else None
    return body["items"], next_url if isinstance(next_url, str) and next_url else None


def _active(d: Json) -> str:
    return ACTIVE if wire.flag(d, "isActive", default=True) else INACTIVE


def _person(d: Json) -> str | None:
    name = " ".join(p for p in (wire.opt_text(d, "firstName"), wire.opt_text(d, "lastName")) if p)
    return name or None


def _company(d: Json, lk: Lookups) -> Company:
    kind = wire.opt_int(d, "companyType")
    label = (lk.company_types or {}).get(str(kind)) if kind is not None else None
    return Company(
        psa_id=wire.psa_id(d),
        name=wire.text(d, "companyName"),
        website=wire.opt_text(d, "webAddress"),
        status=_active(d),
        types=(label,) if label else (),
    )


def _site(d: Json, lk: Lookups) -> Site:
    company = ref(d, "companyID")
    if company is None:
        raise BadRecord("companyID: a location needs its company")
    return Site(
        psa_id=wire.psa_id(d),
        company_psa_id=company,
        name=wire.text(d, "name"),
        active=wire.flag(d, "isActive", default=True),
        primary=wire.flag(d, "isPrimary"),
        address=Address(
            line1=wire.opt_text(d, "address1"),
            line2=wire.opt_text(d, "address2"),
            city=wire.opt_text(d, "city"),
            region=wire.opt_text(d, "state"),
            postal_code=wire.opt_text(d, "postalCode"),
            country=_name(lk.countries, d, "countryID"),
        ),
    )


def _asset(d: Json, lk: Lookups, selected: Sequence[str], purchase_udf: str | None) -> Asset:
    purchased = None
    udfs = _udf_pairs(d)
    if purchase_udf is not None:
        raw = dict(udfs).get(purchase_udf)
        purchased = wire.opt_date({purchase_udf: raw}, purchase_udf) if isinstance(raw, str) \
            else None
    return Asset(
        psa_id=wire.psa_id(d),
        company_psa_id=ref(d, "companyID"),
        name=wire.text(d, "referenceTitle"),
        status=_active(d),
        type=_name(lk.ci_types, d, "configurationItemType"),
        purchase_date=purchased,
        warranty_expiration=wire.opt_date(d, "warrantyExpirationDate"),
        serial_number=wire.opt_text(d, "serialNumber"),
        os_type=wire.opt_text(d, "rmmDeviceAuditOperatingSystem"),
        notes=wire.opt_text(d, "notes"),
        manufacturer=_name(lk.products, d, "productID"),
        custom_fields=_custom(udfs, selected, lk.udfs or {}),
    )


def _contact(d: Json, lk: Lookups, selected: Sequence[str]) -> Contact:
    first, last = wire.opt_text(d, "firstName"), wire.opt_text(d, "lastName")
    if first is None and last is None:
        raise BadRecord("firstName/lastName: a contact needs a name")
    return Contact(
        psa_id=wire.psa_id(d),
        company_psa_id=ref(d, "companyID"),
        first_name=first,
        last_name=last,
        type=None,
        title=wire.opt_text(d, "title"),
        email=wire.opt_text(d, "emailAddress"),
        phone=wire.opt_text(d, "phone") or wire.opt_text(d, "mobilePhone"),
        address=Address(
            line1=wire.opt_text(d, "addressLine"),
            line2=wire.opt_text(d, "addressLine1"),
            city=wire.opt_text(d, "city"),
            region=wire.opt_text(d, "state"),
            postal_code=wire.opt_text(d, "zipCode"),
            country=_name(lk.countries, d, "countryID"),
        ),
        active=wire.flag(d, "isActive", default=True),
        custom_fields=_custom(_udf_pairs(d), selected, lk.udfs or {}),
    )


def _board(d: Json) -> Board:
    return Board(psa_id=wire.psa_id(d, "value"), name=wire.text(d, "label"),
                 active=wire.flag(d, "isActive", default=True))


def _priority(d: Json) -> Priority:
    return Priority(psa_id=wire.psa_id(d, "value"), name=wire.text(d, "label"),
                    sort_order=wire.opt_int(d, "sortOrder"))


def _ticket_status(d: Json, closed_labels: frozenset[str]) -> TicketStatus:
    value = wire.psa_id(d, "value")
    name = wire.text(d, "label")
    return TicketStatus(psa_id=value, name=name, board_psa_id=None,
                        closed=value == COMPLETE_STATUS or name.casefold() in closed_labels,
                        sort_order=wire.opt_int(d, "sortOrder"))
