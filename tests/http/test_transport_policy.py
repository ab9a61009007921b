"""Vendor transport policies as the one client applies them: budgets, per-endpoint
concurrency, a discovered base URL and what is retried because of them."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from conftest import FakeClock
from psad.errors import PsaAuthError, PsaRateLimited
from psad.http import PsaClient, RetryPolicy, StaticAuth
from psad.transport import (
    Discovery,
    EndpointSlots,
    SlidingWindow,
    TransportPolicy,
    Usage,
    UsageBudget,
    shared_window,
)

ServerFactory = Callable[..., Coroutine[Any, Any, TestServer]]
FAST = RetryPolicy(max_retries=2, backoff_base=0.01, backoff_max=0.02)


@dataclass
class Upstream:
    """A stand-in PSA: answers ``/{zone}/{endpoint}/…``, counts what it saw."""

    root: str = ""
    zone: str = "z1"
    delay: float = 0.0
    """How long a call is held (at most, with ``release_at``)."""
    release_at: int = 0
    """Release every held call once this many are in flight together."""
    released: asyncio.Event = field(default_factory=asyncio.Event)
    throttle: int = 0
    """Answer this many requests 429 before answering again."""
    usage: list[int] = field(default_factory=lambda: [0])
    """``count`` of the next usage answers; the last one repeats."""
    in_flight: Counter[str] = field(default_factory=Counter)
    peak: Counter[str] = field(default_factory=Counter)
    seen: list[str] = field(default_factory=list)
    authorization: list[str | None] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)
    clock: Callable[[], float] | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/zone", self.zone_info)
        app.router.add_get("/{zone}/usage", self.usage_info)
        app.router.add_route("*", "/{zone}/{endpoint}/{rest:.*}", self.call)
        return app

    async def zone_info(self, request: web.Request) -> web.Response:
        self.seen.append("zone")
        return web.json_response({"url": f"{self.root}/{self.zone}/"})

    async def usage_info(self, request: web.Request) -> web.Response:
        self.seen.append("usage")
        count = self.usage.pop(0) if len(self.usage) > 1 else self.usage[0]
        return web.json_response({"limit": 100, "minutes": 60, "count": count})

    async def call(self, request: web.Request) -> web.Response:
        endpoint = request.match_info["endpoint"]
        self.seen.append(f"{request.match_info['zone']}/{endpoint}")
        self.authorization.append(request.headers.get("Authorization"))
        if self.clock is not None:
            self.stamps.append(self.clock())
        if request.match_info["zone"] != self.zone:
            return web.json_response({"errors": ["wrong zone"]}, status=401)
        if self.throttle:
            self.throttle -= 1
            return web.json_response({"errors": ["slow down"]}, status=429)
        self.in_flight[endpoint] += 1
        self.peak[endpoint] = max(self.peak[endpoint], self.in_flight[endpoint])
        try:
            if self.release_at and sum(self.in_flight.values()) >= self.release_at:
                self.released.set()
            if self.release_at:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.released.wait(), self.delay)
            else:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight[endpoint] -= 1
        return web.json_response({"zone": self.zone, "endpoint": endpoint})


@pytest.fixture
async def upstream(aiohttp_server: ServerFactory) -> Upstream:
    psa = Upstream()
    server = await aiohttp_server(psa.app())
    psa.root = str(server.make_url("")).rstrip("/")
    return psa


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def client(session: aiohttp.ClientSession, transport: TransportPolicy,
           max_concurrency: int = 16) -> PsaClient:
    psa = PsaClient(session, "acme", max_concurrency=max_concurrency, policy=FAST)
    psa.use(transport)
    return psa


def endpoint_of(url: str) -> str:
    return url.split("/")[4]


def zone_lookup(upstream: Upstream, psa: Callable[[], PsaClient]) -> Callable[[], Any]:
    async def lookup() -> str:
        response = await psa().request("GET", upstream.root + "/zone", governed=False)
        return str(response.body["url"])
    return lookup


async def test_endpoint_slots_cap_requests_in_flight_per_endpoint(
        upstream: Upstream, session: aiohttp.ClientSession) -> None:
    upstream.delay = 0.3
    psa = client(session, TransportPolicy(endpoints=EndpointSlots(
        endpoint_of, 2, {"usage-like": 1})))
    await asyncio.gather(*(psa.get(f"{upstream.root}/z1/{endpoint}/{n}")
                           for endpoint in ("tickets", "contacts", "usage-like")
                           for n in range(6)))
    assert upstream.peak == {"tickets": 2, "contacts": 2, "usage-like": 1}


async def test_without_endpoint_slots_only_the_integration_cap_holds(
        upstream: Upstream, session: aiohttp.ClientSession) -> None:
    upstream.delay, upstream.release_at = 30.0, 6  # held until all six are in
    psa = client(session, TransportPolicy())
    await asyncio.gather(*(psa.get(f"{upstream.root}/z1/tickets/{n}") for n in range(6)))
    assert upstream.peak["tickets"] == 6  # so the test above would see a missing cap


async def test_usage_budget_waits_while_the_vendor_says_the_budget_is_spent(
        upstream: Upstream, session: aiohttp.ClientSession) -> None:
    clock = FakeClock()
    upstream.usage = [95, 95, 10]  # others spent 95 % of the hour, then it rolled off

    async def check() -> Usage:
        body = (await psa.request("GET", upstream.root + "/z1/usage", governed=False)).body
        return Usage(body["limit"], body["minutes"] * 60.0, body["count"])

    budget = UsageBudget(check, clock=clock, sleep=clock.sleep)
    psa = client(session, TransportPolicy(budget=budget))
    response = await psa.get(upstream.root + "/z1/tickets/1")
    assert response.body["endpoint"] == "tickets"
    assert clock.slept == [60.0, 60.0]  # waited, re-checked, waited, re-checked
    assert upstream.seen == ["usage", "usage", "usage", "z1/tickets"]


async def test_usage_budget_paces_requests_past_half_the_budget(
        upstream: Upstream, session: aiohttp.ClientSession) -> None:
    clock = FakeClock()
    upstream.usage = [60]

    async def check() -> Usage:
        body = (await psa.request("GET", upstream.root + "/z1/usage", governed=False)).body
        return Usage(body["limit"], body["minutes"] * 60.0, body["count"])

    psa = client(session, TransportPolicy(budget=UsageBudget(check, clock=clock,
                                                             sleep=clock.sleep)))
    for n in range(3):
        await psa.get(f"{upstream.root}/z1/tickets/{n}")
    assert clock.slept == [36.0, 36.0]  # 3600 s / 100 requests, from the second on


async def test_throttled_past_its_retries_a_request_rechecks_the_budget_and_tries_again(
        upstream: Upstream, session: aiohttp.ClientSession) -> None:
    upstream.throttle = FAST.max_retries + 1  # every attempt of the first try is refused
    checks = 0

    async def check() -> Usage:
        nonlocal checks
        checks += 1
        return Usage(100, 3600.0, 0)

    psa = client(session, TransportPolicy(budget=UsageBudget(check)))
    response = await psa.get(upstream.root + "/z1/tickets/1")
    assert response.status == 200
    assert checks == 2  # once to start, once more after the refusals


async def test_sliding_window_is_shared_by_the_clients_of_one_session(
        upstream: Upstream, session: aiohttp.ClientSession) -> None:
    clock = FakeClock()
    upstream.clock = clock
    first = shared_window(session, "psa.example", 3, 30.0)
    assert shared_window(session, "psa.example", 3, 30.0) is first
    async with aiohttp.ClientSession() as other:
        assert shared_window(other, "psa.example", 3, 30.0) is not first
    first.clock, first.sleep = clock, clock.sleep
    one = client(session, TransportPolicy(budget=first))
    two = client(session, TransportPolicy(budget=shared_window(session, "psa.example", 3,
                                                               30.0)))
    for n in range(7):
        await (one if n % 2 else two).get(f"{upstream.root}/z1/tickets/{n}")
    assert upstream.stamps == [1000.0] * 3 + [1030.0] * 3 + [1060.0]


async def test_sliding_window_never_lets_more_than_its_limit_start_in_a_window() -> None:
    clock = FakeClock()
    window = SlidingWindow(3, 10.0, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(5):
        await window.acquire()
        stamps.append(clock.now)
        clock.now += 2.0
    assert stamps == [1000.0, 1002.0, 1004.0, 1010.0, 1012.0]


async def test_a_discovered_base_is_looked_up_once_per_process(
        upstream: Upstream, session: aiohttp.ClientSession) -> None:
    key = ("discovery-once", upstream.root)
    clients: list[PsaClient] = []
    for _ in range(2):  # a connector rebuilt for the next run gets a new client
        psa = client(session, TransportPolicy())
        psa.use(TransportPolicy(discovery=Discovery(
            key, zone_lookup(upstream, lambda psa=psa: psa), lambda url: url)))
        clients.append(psa)
    for psa in clients:
        response = await psa.get("tickets/1")
        assert response.url == upstream.root + "/z1/tickets/1"
    assert upstream.seen == ["zone", "z1/tickets", "z1/tickets"]


async def test_a_request_refused_by_a_moved_base_is_sent_once_to_the_new_one(
        upstream: Upstream, session: aiohttp.ClientSession) -> None:
    psa = client(session, TransportPolicy())
    psa.use(TransportPolicy(discovery=Discovery(
        ("discovery-moved", upstream.root), zone_lookup(upstream, lambda: psa),
        lambda url: url)))
    assert (await psa.get("tickets/1")).body["zone"] == "z1"
    upstream.zone = "z2"
    stale_next_page = upstream.root + "/z1/tickets/2"  # a URL built on the old base
    response = await psa.get(stale_next_page)
    assert response.url == upstream.root + "/z2/tickets/2"
    assert (await psa.get("contacts/1")).url == upstream.root + "/z2/contacts/1"
    assert upstream.seen == ["zone", "z1/tickets", "z1/tickets", "zone", "z2/tickets",
                             "z2/contacts"]


async def test_a_refusal_where_the_base_has_not_moved_is_an_auth_error(
        upstream: Upstream, session: aiohttp.ClientSession) -> None:
    psa = client(session, TransportPolicy())
    psa.use(TransportPolicy(discovery=Discovery(
        ("discovery-stays", upstream.root), zone_lookup(upstream, lambda: psa),
        lambda url: url)))
    await psa.get("tickets/1")
    with pytest.raises(PsaAuthError):
        await psa.get(upstream.root + "/z9/tickets/1")  # not on the base: no look-up
    assert upstream.seen.count("zone") == 1


async def test_static_credentials_go_on_every_request_and_a_refusal_is_final(
        upstream: Upstream, session: aiohttp.ClientSession) -> None:
    psa = client(session, TransportPolicy())
    auth = StaticAuth({"Authorization": "Bearer key-0123456789"})
    await psa.get(upstream.root + "/z1/tickets/1", auth=auth)
    with pytest.raises(PsaAuthError):
        await psa.get(upstream.root + "/z9/tickets/1", auth=auth)
    assert upstream.seen == ["z1/tickets", "z9/tickets"]  # refused once, not asked again
    assert upstream.authorization == ["Bearer key-0123456789"] * 2


async def test_throttled_past_its_retries_under_a_window_budget_a_request_fails(
        upstream: Upstream, session: aiohttp.ClientSession) -> None:
    upstream.throttle = FAST.max_retries + 1
    psa = client(session, TransportPolicy(budget=SlidingWindow(100)))
    with pytest.raises(PsaRateLimited):
        await psa.get(upstream.root + "/z1/tickets/1")
    assert len(upstream.seen) == FAST.max_retries + 1  # the window learns nothing: no more
