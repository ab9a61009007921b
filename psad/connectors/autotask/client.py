"""Autotask's transport: the API user's headers, its zone, the database's request budget."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from psad.connectors import wire
from psad.connectors.autotask.wire import MAX_RECORDS, _errors
from psad.connectors.base import Connector
from psad.connectors.wire import BadRecord
from psad.errors import PsaAuthError, PsaBadResponse, PsaRateLimited

log = logging.getLogger("psad.connectors.autotask")

THREADS_PER_ENDPOINT: Final = 3
LOOKUP_TTL: Final = 300.0
ZONE_RECHECK_GAP: Final = 5.0
"""Seconds in which further 401s reuse the last zone re-check."""
_KNOWN_ZONES: Final[dict[tuple[str, str], Zone]] = {}
"""(discovery root, API user) → the zone last found, shared by connectors of this process:
a connector rebuilt for the next run (a config reload, ``sync-once`` in a loop) starts
without the serial zone lookup. A moved zone answers 401, which re-checks it."""
THRESHOLD_ENDPOINT: Final = "thresholdinformation"


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


class AutotaskApi(Connector):
    """Calls to the API user's zone, within the database's budget and Autotask's
    per-endpoint thread limit."""

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

    async def close(self) -> None:
        """Lookups still loading for a caller that went away end with the connector."""
        loading = [f for _, f in self._cache.values() if not f.done()]
        for future in loading:
            future.cancel()
        await asyncio.gather(*loading, return_exceptions=True)
