"""Several real ``psad run`` processes sharing one PostgreSQL database, for tests/multi/."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from conftest import free_port, write_config
from daemon_process import AUTH, DaemonProcess
from psad.simulators.dataset import Dataset
from psad.simulators.serve import RunningSimulator, start_simulator
from psad.store import utcnow
from psad.store.postgres import PostgresStore

LIVE = ("queued", "running")


async def simulator(latency: float) -> RunningSimulator:
    """A ConnectWise simulator with a few records; ``latency`` seconds per request."""
    return await start_simulator("connectwise", Dataset.generate(
        14, companies=3, sites_per_company=1, assets=8, contacts=4, tickets=2, boards=1),
        latency=latency)


def cluster_config(directory: Path, sim: RunningSimulator, database: str, names: Iterable[str],
                   *, port: int, workers: int = 2, lease: float = 60,
                   schedule: str = "0 4 * * *") -> Path:
    """One instance's psad.toml: ``names`` integrations, all on ``sim``, in ``database``."""
    directory.mkdir(parents=True, exist_ok=True)
    text = write_config(directory, [sim], port=port, workers=workers).read_text()
    text = text.replace('database = "psad.db"', f'database = "{database}"')
    text = text.replace("jitter_seconds = 0", f"jitter_seconds = 0\nrun_lease_seconds = {lease}")
    head, block = text.split("[[integrations]]", 1)
    block = block.replace('schedule = "0 4 * * *"', f'schedule = "{schedule}"')
    path = directory / "psad.toml"
    path.write_text(head + "".join(
        "[[integrations]]" + block.replace('name = "demo-connectwise"', f'name = "{name}"')
        for name in names))
    return path


async def start_cluster(root: Path, sim: RunningSimulator, database: str, names: list[str],
                        count: int, **options: Any) -> list[DaemonProcess]:
    """``count`` instances with the same integrations, each on its own port."""
    daemons = []
    for n in range(count):
        port = free_port()
        daemons.append(DaemonProcess(
            cluster_config(root / f"instance-{n}", sim, database, names, port=port, **options),
            port))
    # several processes starting at once on a busy machine: give them time
    await asyncio.gather(*(daemon.start(timeout=90) for daemon in daemons))
    return daemons


async def stop_cluster(daemons: list[DaemonProcess]) -> None:
    for daemon in daemons:
        if daemon.proc is not None and daemon.proc.returncode is None:
            await daemon.stop()


async def mark_synced(database: str, names: Iterable[str]) -> None:
    """A finished start-up run for each integration, so no instance's start-up catch-up
    queues one (the tests then see only the runs they ask for)."""
    store = await PostgresStore.open(database)
    try:
        for name in names:
            run_id = await store.create_run(name, "startup", "test", full=False,
                                            queued_at=utcnow())
            await store.update_run(run_id, outcome="succeeded", started_at=utcnow(),
                                   finished_at=utcnow())
    finally:
        await store.close()


async def runs(database: str) -> list[dict[str, Any]]:
    """Every run, oldest first, with the instance that last held it."""
    conn = await asyncpg.connect(database)
    try:
        return [dict(row) for row in await conn.fetch(
            "SELECT id, integration, trigger, requested_by, outcome, queued_at, started_at, "
            "finished_at, scheduled_for, error, lease_owner FROM runs ORDER BY id")]
    finally:
        await conn.close()


async def until_idle(database: str, timeout: float = 240) -> list[dict[str, Any]]:
    """Wait until no run is queued or running; the runs then."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = await runs(database)
        if not any(run["outcome"] in LIVE for run in found):
            return found
        await asyncio.sleep(0.5)
    raise AssertionError("runs still queued or running: " + str(
        [(r["id"], r["integration"], r["outcome"]) for r in found if r["outcome"] in LIVE]))


def overlapping(found: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Pairs of runs of one integration whose start-to-finish times overlap."""
    by_integration: dict[str, list[dict[str, Any]]] = {}
    for run in found:
        if run["started_at"] is not None:
            by_integration.setdefault(run["integration"], []).append(run)
    pairs = []
    for started in by_integration.values():
        started.sort(key=lambda r: r["started_at"])
        for before, after in zip(started, started[1:]):
            if before["finished_at"] is None or after["started_at"] < before["finished_at"]:
                pairs.append((before["id"], after["id"]))
    return pairs


async def post_sync(session: aiohttp.ClientSession, daemon: DaemonProcess,
                    name: str) -> dict[str, Any]:
    async with session.post(f"{daemon.url}/api/integrations/{name}/sync",
                            headers=AUTH) as resp:
        assert resp.status == 202, await resp.text()
        answer: dict[str, Any] = await resp.json()
        return answer


async def until_running(database: str, owner: str = "") -> list[dict[str, Any]]:
    """Wait for runs running (on the instance whose name contains ``owner``)."""
    for _ in range(600):
        found = [r for r in await runs(database) if r["outcome"] == "running"
                 and owner in str(r["lease_owner"])]
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no run running on {owner or 'any instance'}")
