"""Request slots: live calls first, then chains of pages, then fan-out calls."""

from __future__ import annotations

import asyncio

import aiohttp

from conftest import run_sync
from psad.config import IntegrationConfig, SyncConfig
from psad.connectors.connectwise import ConnectWiseConnector
from psad.engine import SyncEngine
from psad.http import REQUEST_PRIORITY, PsaClient, RequestPriority, with_priority
from psad.priority_slots import PrioritySlots
from psad.simulators import REQUEST_LOG_KEY
from psad.simulators.dataset import Dataset
from psad.simulators.serve import CONNECTWISE, start_simulator
from psad.store.contract import StoreContract

LIVE, SYNC, FAN_OUT = RequestPriority.LIVE, RequestPriority.SYNC, RequestPriority.FAN_OUT


async def test_waiters_get_slots_by_priority_then_in_arrival_order() -> None:
    slots = PrioritySlots(1)
    await slots.acquire(SYNC)
    served: list[str] = []

    async def wait(name: str, priority: RequestPriority) -> None:
        await slots.acquire(priority)
        served.append(name)
        slots.release()

    waiters = [asyncio.create_task(wait(n, p)) for n, p in
               [("fan-1", FAN_OUT), ("sync-1", SYNC), ("fan-2", FAN_OUT), ("live", LIVE),
                ("sync-2", SYNC)]]
    await asyncio.sleep(0)
    slots.release()
    await asyncio.gather(*waiters)
    assert served == ["live", "sync-1", "sync-2", "fan-1", "fan-2"]
    assert slots.free == 1


async def test_a_waiter_that_goes_away_does_not_keep_a_slot() -> None:
    slots = PrioritySlots(1)
    await slots.acquire(SYNC)
    gone = asyncio.create_task(slots.acquire(FAN_OUT))
    await asyncio.sleep(0)
    gone.cancel()
    slots.release()  # hands the slot to the cancelled waiter's future at the same moment
    await asyncio.gather(gone, return_exceptions=True)
    await asyncio.wait_for(slots.acquire(SYNC), 1)
    slots.release()
    assert slots.free == 1


async def test_priority_set_in_a_task_stays_with_that_task() -> None:
    async def seen() -> RequestPriority:
        return REQUEST_PRIORITY.get()

    inner = await asyncio.create_task(with_priority(FAN_OUT, seen()))
    assert inner is FAN_OUT
    assert REQUEST_PRIORITY.get() is SYNC


async def test_a_chain_of_pages_is_not_starved_by_per_company_site_calls(
        store: StoreContract) -> None:
    """Asset pages are a chain (each needs the last id of the one before); ConnectWise
    sites are one call per company where a server refuses bundled reads. The chain's
    next page must go ahead of the queued site calls, or it ends up running alone after
    them."""
    dataset = Dataset.generate(4, companies=120, sites_per_company=1, assets=200, contacts=10,
                               tickets=5)
    sim = await start_simulator("connectwise", dataset)
    sim.faults.latency = 0.005
    sim.faults.status("/v4_6_release/apis/3.0/system/bundles", 404, count=None)
    try:
        async with aiohttp.ClientSession() as session:
            integration = IntegrationConfig(
                name="acme", kind="connectwise", base_url=sim.base_url,
                settings=dict(CONNECTWISE.settings), page_size=20, max_concurrency=2)
            client = PsaClient(session, "acme", max_concurrency=2)
            connector = ConnectWiseConnector(integration, client, dict(CONNECTWISE.secrets))
            report = await run_sync(store, SyncEngine(store, SyncConfig()), connector,
                                    full=True)
        assert report.outcome == "succeeded"
        paths = [e.path for e in sim.app[REQUEST_LOG_KEY].entries]
        asset_at = [i for i, p in enumerate(paths) if p.endswith("/company/configurations")]
        site_at = [i for i, p in enumerate(paths) if p.endswith("/sites")]
        assert len(asset_at) == 11 and len(site_at) == 120
        gaps = [b - a for a, b in zip(asset_at, asset_at[1:])]
        assert max(gaps) <= 6, f"asset pages waited behind other calls: gaps {gaps}"
        assert asset_at[-1] < site_at[-1], "the asset chain finished after every site call"
    finally:
        await sim.stop()
