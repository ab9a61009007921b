"""Request-cost benchmarks: what a sync asks of the PSA, and what that costs in wall time.

- ConnectWise bundled site reads against one site call per company on the same
  data (the simulator refusing ``/system/bundles`` makes psad read sites the old
  way), at a cloud-like latency;
- incremental ÷ full with 1 % changed for the PSAs whose incremental runs prove
  deletions by count;
- Kaseya BMS asset detail calls in a nightly run after 5 % changed, with BMS's
  hourly limit on (the initial load runs first against a simulator without it:
  reading every asset once is the one run that cannot fit the budget);
- requests per entity for every run.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp

from bench.syncs import (
    SyncResult,
    Sizes,
    clear_requests,
    logged_requests,
    start_simulator,
    sync_once,
    touch,
    workdir,
    write_config,
)

BUNDLES = "/v4_6_release/apis/3.0/system/bundles"


async def refuse_bundles(root: str) -> None:
    """Make the simulator answer ``/system/bundles`` with 404, as a server without it."""
    async with aiohttp.ClientSession() as session:
        async with session.post(root + "/_sim/faults", json={
                "kind": "status", "prefix": BUNDLES, "status": 404, "count": None}) as resp:
            resp.raise_for_status()


async def full_then_incremental(kind: str, sizes: Sizes, latency: float, *,
                                share: float | None = 0.01,
                                bundles: bool = True) -> dict[str, Any]:
    """One full sync and, with ``share``, an incremental one after ``share`` changed;
    each with its request count as the simulator logged it."""
    sim = await asyncio.to_thread(start_simulator, kind, sizes, latency)
    try:
        if not bundles:
            await refuse_bundles(sim.root)
        config = write_config(workdir(), sim)
        await clear_requests(sim)
        full = await asyncio.to_thread(sync_once, config, full=True)
        out: dict[str, Any] = {"full": full, "full_requests": len(await logged_requests(sim))}
        if share is not None:
            await touch(sim, share)
            await clear_requests(sim)
            out["incremental"] = await asyncio.to_thread(sync_once, config, full=False)
            out["incremental_requests"] = len(await logged_requests(sim))
        return out
    finally:
        sim.stop()


def per_entity(result: SyncResult) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(result.requests.items()))


BMS_DETAIL = re.compile(r"^/v2/servicedesk/hardwareasset/\d+$")


async def bms_nightly(sizes: Sizes, latency: float, share: float = 0.05) -> dict[str, Any]:
    """The initial load without limits, then a nightly run after ``share`` changed against
    the same data (same seed) with the hourly limit on: its asset detail calls."""
    directory = workdir()
    first = await asyncio.to_thread(start_simulator, "kaseya_bms", sizes, latency)
    try:
        initial = await asyncio.to_thread(sync_once, write_config(directory, first), full=True)
    finally:
        first.stop()
    limited = await asyncio.to_thread(start_simulator, "kaseya_bms", sizes, latency,
                                      vendor_limits=True)
    try:
        config = write_config(directory, limited)
        await touch(limited, share)
        await clear_requests(limited)
        nightly = await asyncio.to_thread(sync_once, config, full=False)
        requests = await logged_requests(limited)
    finally:
        limited.stop()
    return {"initial": initial, "nightly": nightly, "requests": len(requests),
            "details": sum(1 for r in requests if BMS_DETAIL.match(r["path"]))}
