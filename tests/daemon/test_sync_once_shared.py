"""``psad sync-once`` on a PostgreSQL database that daemons share: their rules hold for it.

The other instance is a second store on the same database, claiming runs as a
daemon's workers do; the sync-once is the real one, in this process or as a
``psad sync-once`` process killed mid-run.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conftest import ROOT, write_config
from daemon_process import PSAD
from psad.cli import main
from psad.config import Config
from psad.config_file import load_config
from psad.simulators.serve import RunningSimulator
from psad.store import utcnow
from psad.store.contract import IntegrationBusy
from psad.store.postgres import PostgresStore
from psad.sync_once import sync_once

NAME = "demo-connectwise"
LEASE = 3.0


def shared_config(directory: Path, sim: RunningSimulator, url: str) -> Path:
    """A config on the shared database, with a lease short enough to wait out."""
    path = write_config(directory, [sim])
    text = path.read_text()
    assert 'database = "psad.db"' in text and "jitter_seconds = 0" in text
    path.write_text(text.replace('database = "psad.db"', f'database = "{url}"').replace(
        "jitter_seconds = 0", f"jitter_seconds = 0\nrun_lease_seconds = {LEASE}"))
    return path


@pytest.fixture
async def other(postgres_url: str) -> AsyncIterator[PostgresStore]:
    """Another instance on the database (its leases renewed while the test runs)."""
    store = await PostgresStore.open(postgres_url, lease_seconds=LEASE)
    yield store
    await store.close()


async def claimed(store: PostgresStore, integration: str) -> int:
    """``integration`` queued and claimed by ``store``'s instance, as its workers do."""
    queued = await store.enqueue(integration, "force", "elsewhere", full=False,
                                 queued_at=utcnow())
    run = await store.claim_next(at=utcnow())
    assert run is not None and run.id == queued.run_id
    return run.id


async def once(config: Config) -> int:
    integration = config.integration(NAME)
    assert integration is not None
    report = await sync_once(config, integration, full=False, requested_by="test")
    assert report.outcome == "succeeded", report.error
    return report.run_id


async def outcome(store: PostgresStore, run_id: int) -> str:
    detail = await store.get_run(run_id)
    assert detail is not None
    return detail.run.outcome


async def test_an_integration_running_elsewhere_is_refused_by_name_and_nothing_interrupted(
        tmp_path: Path, cw_sim: RunningSimulator, postgres_url: str, other: PostgresStore,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_config(tmp_path, cw_sim, postgres_url)
    config = load_config(path)
    mine = await claimed(other, NAME)
    theirs = await claimed(other, "another-integration")
    with pytest.raises(IntegrationBusy, match=rf"integration '{NAME}' is already running "
                                              rf"\(run {mine},"):
        await once(config)
    assert await asyncio.to_thread(main, ["sync-once", "-c", str(path), NAME]) == 1
    assert f"integration '{NAME}' is already running (run {mine}," in capsys.readouterr().err
    assert [await outcome(other, r) for r in (mine, theirs)] == ["running", "running"]
    assert [r.id for r in await other.queue_runs()] == [mine, theirs]  # nothing queued

    await other.update_run(mine, outcome="succeeded", finished_at=utcnow())
    ran = await once(config)
    assert await outcome(other, ran) == "succeeded"
    assert await outcome(other, theirs) == "running"  # another instance's live run stays


async def test_sync_once_runs_the_queued_run_and_a_killed_one_is_run_again(
        tmp_path: Path, cw_sim: RunningSimulator, postgres_url: str,
        other: PostgresStore) -> None:
    path = shared_config(tmp_path, cw_sim, postgres_url)
    config = load_config(path)
    queued = await other.enqueue(NAME, "nightly", "schedule", full=False, queued_at=utcnow())
    assert await once(config) == queued.run_id  # joined, not a second run after it
    assert await other.queue_runs() == []

    cw_sim.faults.latency = 0.05
    killed = await asyncio.create_subprocess_exec(
        *PSAD, "sync-once", "-c", str(path), NAME, cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    for _ in range(600):
        running = [r for r in await other.queue_runs() if r.outcome == "running"]
        if running:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the sync-once process never started its run")
    with pytest.raises(IntegrationBusy):  # leased: a live sync-once is not run over
        await once(config)
    killed.send_signal(signal.SIGKILL)
    await killed.wait()
    cw_sim.faults.latency = 0

    await asyncio.sleep(LEASE + 0.5)  # its lease lapses: the next one takes over
    again = await once(config)
    detail = await other.get_run(running[0].id)
    assert detail is not None and detail.run.outcome == "interrupted"
    assert "stopped renewing" in (detail.run.error or "")
    # the run queued again for the killed one is the one that ran: nothing left behind
    assert [r.id for r in await other.list_runs(integration=NAME, limit=2)] == \
        [again, running[0].id]
    assert await other.queue_runs() == []
