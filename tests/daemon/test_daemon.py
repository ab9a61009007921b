"""The daemon as a real process: schedule, SIGTERM mid-sync and resume, and the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import (ROOT, configured_store, free_port, queue_idle, sql_rows, wait_for_run,
                      write_config)
from daemon_process import PSAD, DaemonProcess, wait_outcome
from psad.model import Entity
from psad.scheduler import OffsetCronTrigger
from psad.simulators.dataset import Dataset
from psad.simulators.serve import RunningSimulator, start_simulator
from psad.store import Store


async def cli(config: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *PSAD, *args, "--config", str(config), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def slow_sim() -> AsyncIterator[RunningSimulator]:
    sim = await start_simulator("connectwise", Dataset.generate(
        11, companies=30, assets=2000, contacts=300, tickets=20))
    yield sim
    await sim.stop()


async def db_counts(config: Path) -> dict[str, int]:
    """Live rows per entity the daemon of ``config`` left in its database (a SQLite file
    passes its integrity check first)."""
    async with configured_store(config) as store:
        if isinstance(store, Store):
            assert sql_rows(store, "PRAGMA integrity_check") == [("ok",)]
        return {e.value: await store.live_count("demo-connectwise", e)
                for e in (Entity.COMPANY, Entity.SITE, Entity.ASSET, Entity.CONTACT)}


async def run_outcome(config: Path, run_id: int) -> str | None:
    async with configured_store(config) as store:
        detail = await store.get_run(run_id)
    return detail.run.outcome if detail else None


@pytest.mark.usefixtures("database")
async def test_sigterm_mid_sync_interrupts_and_the_next_start_completes_it(
        tmp_path: Path, slow_sim: RunningSimulator) -> None:
    port = free_port()
    config = write_config(tmp_path, [slow_sim], port=port,
                          integration_extra="page_size = 50")
    slow_sim.faults.latency = 0.02
    daemon = DaemonProcess(config, port)
    await daemon.start()
    runs = (await daemon.api("GET", "/api/runs"))["runs"]
    first = runs[0]["id"]  # the start-up sync of a new integration
    await wait_outcome(daemon, first, ("running",))
    while "assets" not in ((await daemon.api("GET", f"/api/runs/{first}"))
                           .get("current_entity") or ""):
        await asyncio.sleep(0.02)
    assert await daemon.stop() == 0
    assert await run_outcome(config, first) == "interrupted"
    partial = await db_counts(config)
    assert 0 < partial["assets"] < 2000  # committed pages kept, the rest not yet there

    slow_sim.faults.latency = 0
    daemon = DaemonProcess(config, port)
    await daemon.start()
    try:
        runs = (await daemon.api("GET", "/api/runs"))["runs"]
        resumed = runs[0]
        assert resumed["trigger"] == "startup" and "resume" in resumed["requested_by"]
        done = await wait_outcome(daemon, resumed["id"], ("succeeded", "partial", "failed"))
        assert done["outcome"] == "succeeded", done
    finally:
        assert await daemon.stop() == 0
    ds = slow_sim.dataset
    assert await db_counts(config) == {
        "companies": ds.count("companies"), "sites": ds.count("sites"),
        "assets": ds.count("assets"), "contacts": ds.count("contacts")}


@pytest.mark.usefixtures("database")
async def test_cli_sync_wait_status_and_runs_against_a_running_daemon(
        tmp_path: Path, cw_sim: RunningSimulator) -> None:
    port = free_port()
    config = write_config(tmp_path, [cw_sim], port=port)
    daemon = DaemonProcess(config, port)
    await daemon.start()
    try:
        code, out, err = await cli(config, "sync", "demo-connectwise", "--wait")
        assert code == 0, out + err
        assert "queued for demo-connectwise" in out and "succeeded" in out
        assert "assets" in out
        code, out, _ = await cli(config, "status")
        assert code == 0 and "demo-connectwise" in out and "connectwise" in out
        code, out, _ = await cli(config, "runs", "demo-connectwise")
        assert code == 0 and "force" in out and "succeeded" in out
        code, _, err = await cli(config, "sync", "missing")  # a usage error, names listed
        assert code == 2 and "no integration named 'missing' (configured: demo-connectwise)" \
            in err
    finally:
        await daemon.stop()
    code, _, err = await cli(config, "status")
    assert code == 1 and "cannot reach psad" in err


async def test_a_cron_fire_queues_a_nightly_run_that_completes(daemon_client: Any,
                                                               auth: dict) -> None:
    runtime = daemon_client.runtime
    while not await queue_idle(runtime):
        await asyncio.sleep(0.05)
    # a night the start-up catch-up has not run already (this minute's, not last 04:00's)
    runtime.scheduler.triggers["demo-connectwise"] = OffsetCronTrigger("* * * * *", UTC,
                                                                       timedelta(0))
    runtime.scheduler.scheduler.modify_job("demo-connectwise", next_run_time=datetime.now(UTC))
    for _ in range(200):
        runs = (await (await daemon_client.get("/api/runs", headers=auth)).json())["runs"]
        if runs[0]["trigger"] == "nightly":
            break
        await asyncio.sleep(0.02)
    assert runs[0]["trigger"] == "nightly" and runs[0]["requested_by"] == "schedule"
    done = await wait_for_run(daemon_client, runs[0]["id"], auth)
    assert done["outcome"] == "succeeded"


@pytest.mark.usefixtures("database")
async def test_sync_once_prints_the_summary_and_exit_code(tmp_path: Path,
                                                          cw_sim: RunningSimulator) -> None:
    config = write_config(tmp_path, [cw_sim])
    code, out, err = await cli(config, "sync-once", "demo-connectwise")
    assert code == 0, err
    assert "succeeded" in out and "assets" in out and "120" in out
    cw_sim.dataset.corrupt("assets", cw_sim.dataset.ids("assets")[0], "name", None)
    code, out, _ = await cli(config, "sync-once", "demo-connectwise", "--full")
    assert code == 3 and "partial" in out
