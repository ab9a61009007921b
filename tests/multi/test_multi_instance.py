"""Several ``psad run`` processes on one PostgreSQL: each run once, failover, dedupe, outages.

Real processes (:class:`DaemonProcess`), a real PostgreSQL cluster started by the
test suite (it fails under ``PSAD_REQUIRE_TOOLS=1`` when PostgreSQL is missing)
and the ConnectWise simulator, with small datasets so each test stays short.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from conftest import postgres_cluster
from daemon_process import DaemonProcess, wait_outcome
from psad.simulators.serve import RunningSimulator
from psad.store import ts, utcnow
from psad.store.postgres import PostgresStore
from psad_cluster import (LIVE, mark_synced, overlapping, post_sync, runs, simulator,
                          start_cluster, stop_cluster, until_idle, until_running)

STORED = ("companies", "sites", "assets", "contacts")
"""Entities compared with the simulator's dataset after a failover."""


@pytest.fixture
async def quick_sim() -> AsyncIterator[RunningSimulator]:
    sim = await simulator(0.0)
    yield sim
    await sim.stop()


@pytest.fixture
async def slow_sim() -> AsyncIterator[RunningSimulator]:
    """Every request takes a while, so runs are still going when the test acts."""
    sim = await simulator(0.25)
    yield sim
    await sim.stop()


@pytest.mark.timeout(300)  # it waits for the next minute's schedule to fire
async def test_three_instances_run_each_integrations_night_exactly_once(
        tmp_path: Path, postgres_url: str, quick_sim: RunningSimulator) -> None:
    names = [f"n{i:03d}" for i in range(60)]
    await mark_synced(postgres_url, names)
    daemons = await start_cluster(tmp_path, quick_sim, postgres_url, names, 3,
                                  schedule="* * * * *")
    try:
        # a minute that fired while the instances started is done before the one watched
        await until_idle(postgres_url)
        night = ts((utcnow() + timedelta(minutes=1)).replace(second=0, microsecond=0))
        # every instance's schedule fires every integration at that minute
        for _ in range(2400):
            found = await runs(postgres_url)
            ended = {r["integration"] for r in found
                     if r["scheduled_for"] == night and r["outcome"] not in LIVE}
            if ended == set(names) and not any(r["outcome"] in LIVE for r in found):
                break
            await asyncio.sleep(0.1)
    finally:
        await stop_cluster(daemons)
    found = await until_idle(postgres_url)
    that_night = [r for r in found if r["scheduled_for"] == night]
    assert Counter(r["integration"] for r in that_night) == Counter(names)
    assert {(r["trigger"], r["outcome"]) for r in that_night} == {("nightly", "succeeded")}
    per_fire = Counter((r["integration"], r["scheduled_for"]) for r in found
                       if r["scheduled_for"] is not None)
    assert max(per_fire.values()) == 1  # no minute ran twice, whichever instances fired it
    assert overlapping(found) == []
    assert len({r["lease_owner"] for r in that_night}) >= 2  # the work was shared


async def test_a_killed_instances_runs_are_interrupted_and_run_again_by_a_survivor(
        tmp_path: Path, postgres_url: str, slow_sim: RunningSimulator) -> None:
    names = [f"k{i:02d}" for i in range(24)]
    await mark_synced(postgres_url, names)
    daemons = await start_cluster(tmp_path, slow_sim, postgres_url, names, 3, lease=3)
    victim, survivors = daemons[0], daemons[1:]
    assert victim.proc is not None
    try:
        async with aiohttp.ClientSession() as session:
            for n, name in enumerate(names):
                await post_sync(session, daemons[n % 3], name)
        killed = await until_running(postgres_url, f":{victim.proc.pid}:")
        victim.proc.send_signal(signal.SIGKILL)
        await victim.proc.wait()
        killed = [r for r in await runs(postgres_url)
                  if r["id"] in {k["id"] for k in killed} and r["outcome"] == "running"]
        assert killed
        found = await until_idle(postgres_url)
    finally:
        await stop_cluster(survivors)
    by_id = {r["id"]: r for r in found}
    for run in killed:
        lost = by_id[run["id"]]
        assert lost["outcome"] == "interrupted" and "stopped renewing" in lost["error"]
        again = [r for r in found if r["requested_by"] == f"resume of run {run['id']}"]
        assert [(r["outcome"], str(victim.proc.pid) in r["lease_owner"]) for r in again] == [
            ("succeeded", False)], again
    last = {r["integration"]: r["outcome"] for r in found}
    assert set(last.values()) == {"succeeded"}
    assert overlapping(found) == []
    store = await PostgresStore.open(postgres_url)
    try:
        for name in names:
            counts = await store.count_records(name)
            assert {e: counts[e].live for e in STORED} == {
                e: slow_sim.dataset.count(e) for e in STORED}, name
    finally:
        await store.close()


async def test_500_force_syncs_over_three_instances_give_one_running_and_one_queued_run(
        tmp_path: Path, postgres_url: str, slow_sim: RunningSimulator) -> None:
    await mark_synced(postgres_url, ["burst"])
    daemons = await start_cluster(tmp_path, slow_sim, postgres_url, ["burst"], 3)
    try:
        async with aiohttp.ClientSession() as session:
            answers = await asyncio.gather(*(post_sync(session, daemons[n % 3], "burst")
                                             for n in range(500)))
        found = await until_idle(postgres_url)
    finally:
        await stop_cluster(daemons)
    asked = {a["run_id"] for a in answers}
    forced = [r for r in found if r["trigger"] == "force"]
    assert 1 <= len(asked) <= 2 and {r["id"] for r in forced} == asked
    assert sum(not a["deduplicated"] for a in answers) == len(asked)
    assert [r["outcome"] for r in forced] == ["succeeded"] * len(asked)
    assert overlapping(found) == []


async def readiness(daemon: DaemonProcess) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(daemon.url + "/readyz") as resp:
            return resp.status


async def until_ready(daemons: list[DaemonProcess], status: int) -> None:
    for _ in range(600):
        if [await readiness(d) for d in daemons] == [status] * len(daemons):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"/readyz never answered {status} on every instance")


async def test_a_database_outage_fails_runs_clearly_and_the_instances_recover(
        tmp_path: Path, slow_sim: RunningSimulator) -> None:
    names = [f"o{i}" for i in range(6)]
    with postgres_cluster() as server:  # its own cluster: this test stops it
        database = server.createdb()
        await mark_synced(database, names)
        daemons = await start_cluster(tmp_path, slow_sim, database, names, 2, lease=30)
        try:
            async with aiohttp.ClientSession() as session:
                for n, name in enumerate(names):
                    await post_sync(session, daemons[n % 2], name)
            await until_running(database)
            server.stop()
            await until_ready(daemons, 503)  # cut off from the database: not ready
            await asyncio.sleep(3)
            server.start()
            await until_ready(daemons, 200)
            found = await until_idle(database, timeout=120)
            async with aiohttp.ClientSession() as session:  # both work again
                after = [await post_sync(session, d, names[0]) for d in daemons]
            for daemon, answer in zip(daemons, after):
                run = await wait_outcome(daemon, answer["run_id"],
                                         ("succeeded", "partial", "failed", "interrupted"))
                assert run["outcome"] == "succeeded", run
            detail = {r["id"]: await daemons[0].api("GET", f"/api/runs/{r['id']}")
                      for r in found if r["trigger"] == "force"}
        finally:
            await stop_cluster(daemons)
    outcomes = Counter(r["outcome"] for r in detail.values())
    assert outcomes["failed"] >= 1 and set(outcomes) <= {"succeeded", "failed"}, outcomes
    for run in detail.values():
        complete = [e["complete"] for e in run["entities"]]
        if run["outcome"] == "succeeded":  # only a run that wrote every entity says so
            assert complete and all(complete), run
        else:
            assert run["error"], run
