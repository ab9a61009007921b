"""Vendor transport policies, applied by the one HTTP client (:class:`psad.http.PsaClient`).

A connector says what its PSA demands of the transport as a
:class:`TransportPolicy` and hands it to its client (``client.use(policy)``);
the client applies it to every request. Connectors keep only wire mapping.

- A request budget (:class:`SlidingWindow`, :class:`UsageBudget`): awaited
  before each request, it waits as long as the vendor's limit asks. A
  request refused for the budget past its retries tells the budget
  (``exhausted``) and, if the budget learnt from it, is tried once more.
- Per-endpoint concurrency (:class:`EndpointSlots`): a cap on requests in
  flight per object endpoint, beside the integration-wide cap.
- Base-URL discovery (:class:`Discovery`): the base a relative request path
  is sent to, asked of the vendor once per process (Autotask's zone); a
  refused request looks it up again and, if it moved, is sent once more there.

Rate caps are written here rather than taken from ``aiolimiter``: its leaky
bucket lets a full bucket burst and then drains, up to about twice the cap
inside one window, while Syncro counts requests per minute; and Autotask's
budget is paced by the usage the vendor reports, which a fixed-rate limiter
cannot follow.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

log = logging.getLogger("psad.transport")

Found = TypeVar("Found")


class Budget(Protocol):
    """A vendor's request budget."""

    async def acquire(self) -> None:
        """Wait until one more request may start, and count it."""
        ...

    def exhausted(self) -> bool:
        """The PSA refused a request for its budget even after the client's retries;
        whether the budget learns from it, so that one more try is worth it."""
        ...


class SlidingWindow:
    """At most ``limit`` request starts in any ``window`` seconds.

    A sliding window never exceeds the limit inside any fixed window either,
    whichever way the vendor counts.
    """

    def __init__(self, limit: int, window: float = 60.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self.clock()
                while self._starts and now - self._starts[0] >= self.window:
                    self._starts.popleft()
                if len(self._starts) < self.limit:
                    self._starts.append(now)
                    return
                await self.sleep(self._starts[0] + self.window - now)

    def exhausted(self) -> bool:
        """Nothing to learn: the window already holds every start."""
        return False


_SHARED: weakref.WeakKeyDictionary[object, dict[Hashable, SlidingWindow]] = (
    weakref.WeakKeyDictionary())


def shared_window(owner: object, key: Hashable, limit: int,
                  window: float = 60.0) -> SlidingWindow:
    """The one :class:`SlidingWindow` for ``key`` among the clients of ``owner`` (their
    shared ``aiohttp`` session): a limit the vendor counts per caller (Syncro: per IP)
    binds every integration of the process."""
    windows = _SHARED.setdefault(owner, {})
    budget = windows.get((key, limit, window))
    if budget is None:
        budget = windows[(key, limit, window)] = SlidingWindow(limit, window)
    return budget


@dataclass(frozen=True, slots=True)
class Usage:
    """How much of its budget the vendor says is used."""

    limit: int
    timeframe: float
    """Seconds the limit counts over."""
    count: int


class UsageBudget:
    """Stays within a budget the vendor reports the usage of (Autotask's database
    threshold, shared with every other integration of that database).

    Usage is read with ``check`` every ``check_every`` requests or
    ``check_interval`` seconds and advanced locally in between. From
    ``slow_share`` on, requests are spaced at the sustainable pace (timeframe /
    limit); from ``stop_share`` on, they wait and re-check until usage falls
    back, for at most ``max_wait`` seconds in a row.
    """

    def __init__(self, check: Callable[[], Awaitable[Usage]], *, name: str = "the PSA",
                 check_every: int = 100, check_interval: float = 60.0,
                 slow_share: float = 0.5, stop_share: float = 0.9, max_wait: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.check = check
        self.name = name
        self.check_every = check_every
        self.check_interval = check_interval
        self.slow_share = slow_share
        self.stop_share = stop_share
        self.max_wait = max_wait
        self.clock = clock
        self.sleep = sleep
        self.status: Usage | None = None
        self.checked_at = 0.0
        self.since_check = 0
        self.forced = False
        self.next_at = 0.0
        self._lock = asyncio.Lock()

    def exhausted(self) -> bool:
        """Read the usage again before the next request."""
        self.forced = True
        return True

    def _due(self) -> bool:
        return (self.status is None or self.forced or self.since_check >= self.check_every
                or self.clock() - self.checked_at >= self.check_interval)

    async def _refresh(self) -> Usage:
        async with self._lock:
            if self.status is None or self._due():
                self.status = await self.check()
                self.checked_at = self.clock()
                self.since_check = 0
                self.forced = False
        assert self.status is not None
        return self.status

    async def acquire(self) -> None:
        stalled = 0.0
        while True:
            status = self.status if not self._due() else await self._refresh()
            assert status is not None
            share = (status.count + self.since_check) / max(status.limit, 1)
            if share >= self.stop_share and stalled < self.max_wait:
                if stalled == 0:
                    log.warning("%s at %.0f%% of its %d-request threshold; pausing until "
                                "usage falls", self.name, share * 100, status.limit)
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
        """Space request starts ``interval`` apart, across every caller of this budget."""
        now = self.clock()
        delay = self.next_at - now
        self.next_at = max(now, self.next_at) + interval
        if delay > 0:
            await self.sleep(delay)


class EndpointSlots:
    """At most ``limit`` requests in flight per endpoint (``limits`` for exceptions);
    ``endpoint_of`` names a request URL's endpoint."""

    def __init__(self, endpoint_of: Callable[[str], str], limit: int,
                 limits: Mapping[str, int] | None = None) -> None:
        self.endpoint_of = endpoint_of
        self.limit = limit
        self.limits = dict(limits or {})
        self._slots: dict[str, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        endpoint = self.endpoint_of(url)
        slot = self._slots.get(endpoint)
        if slot is None:
            slot = self._slots[endpoint] = asyncio.Semaphore(
                self.limits.get(endpoint, self.limit))
        async with slot:
            yield


_DISCOVERED: dict[Hashable, Any] = {}
"""Discovery key → what was found, shared by the clients of this process: a connector
rebuilt for the next run (a config reload, ``sync-once`` in a loop) starts without the
lookup. A moved base answers 401, which looks it up again."""


class Discovery(Generic[Found]):
    """A base URL the vendor tells (Autotask's zone for an API user).

    ``lookup`` asks the vendor (with requests the policy does not govern:
    ``governed=False``); ``base_of`` is the base relative request paths are
    sent to. What was found is kept for the process under ``key``.
    """

    def __init__(self, key: Hashable, lookup: Callable[[], Awaitable[Found]],
                 base_of: Callable[[Found], str], *, recheck_gap: float = 5.0,
                 name: str = "the PSA") -> None:
        self.key = key
        self.lookup = lookup
        self.base_of = base_of
        self.recheck_gap = recheck_gap
        """Seconds in which further refusals reuse the last look-up."""
        self.name = name
        self.value: Found | None = None
        self._lock = asyncio.Lock()
        self._checked_at = -recheck_gap

    async def current(self) -> Found:
        if self.value is None:
            async with self._lock:
                if self.value is None:
                    known: Found | None = _DISCOVERED.get(self.key)
                    self.value = known if known is not None else await self.lookup()
                    _DISCOVERED[self.key] = self.value
        return self.value

    async def base(self) -> str:
        return self.base_of(await self.current())

    async def recheck(self, used: str) -> bool:
        """Look the base up again, once for a burst of refusals; whether it is no
        longer ``used`` (the base a refused request went to)."""
        async with self._lock:
            if time.monotonic() - self._checked_at >= self.recheck_gap:
                fresh = await self.lookup()
                self._checked_at = time.monotonic()
                if fresh != self.value:
                    log.info("%s moved to %s", self.name, self.base_of(fresh))
                    self.value = _DISCOVERED[self.key] = fresh
        return self.value is not None and self.base_of(self.value) != used


@dataclass(frozen=True, slots=True)
class TransportPolicy:
    """What one vendor demands of the transport; every part is optional."""

    budget: Budget | None = None
    endpoints: EndpointSlots | None = None
    discovery: Discovery[Any] | None = None
