"""Several instances on one PostgreSQL: a run is leased to the instance that queued it.

A starting instance interrupts (to resume) only its own leftovers and the runs
of an instance whose lease lapsed, never the work of one still alive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from psad.model import Entity
from psad.store import utcnow
from psad.store.postgres import PostgresStore


@asynccontextmanager
async def instance(url: str, lease_seconds: float) -> AsyncIterator[PostgresStore]:
    store = await PostgresStore.open(url, lease_seconds=lease_seconds)
    try:
        yield store
    finally:
        await store.close()


async def running_run(store: PostgresStore) -> int:
    run_id = await store.create_run("acme", "force", "test", full=False, queued_at=utcnow())
    await store.update_run(run_id, outcome="running", started_at=utcnow())
    return run_id


async def test_a_live_instance_keeps_its_runs_past_the_lease_time_by_renewing(
        postgres_url: str) -> None:
    async with instance(postgres_url, 1.5) as a, instance(postgres_url, 1.5) as b:
        run_id = await running_run(a)
        queued = await a.create_run("other", "nightly", "schedule", full=False,
                                    queued_at=utcnow())
        await asyncio.sleep(4)  # well past one lease: only renewals keep them a's
        assert await b.interrupt_unfinished_runs(at=utcnow()) == []
        outcomes = {r.id: r.outcome for r in await b.list_runs()}
        assert outcomes == {run_id: "running", queued: "queued"}


async def test_an_instance_that_died_loses_its_runs_once_its_lease_lapses(
        postgres_url: str) -> None:
    async with instance(postgres_url, 1) as b:
        async with instance(postgres_url, 1) as a:
            run_id = await running_run(a)
            await a.remember_seen(run_id, Entity.ASSET, ["1", "2"])
        # a is gone without finishing the run: nothing renews its lease any more
        await asyncio.sleep(1.5)
        interrupted = await b.interrupt_unfinished_runs(at=utcnow())
        assert [(r.id, r.outcome) for r in interrupted] == [(run_id, "running")]
        assert [r.id for r in await b.latest_interrupted_runs()] == [run_id]
    conn = await asyncpg.connect(postgres_url)
    try:  # the ids it noted for its sweep went with it
        assert await conn.fetchval("SELECT count(*) FROM seen") == 0
    finally:
        await conn.close()


async def test_an_instance_interrupts_its_own_leftovers_at_once(postgres_url: str) -> None:
    async with instance(postgres_url, 60) as a:
        run_id = await running_run(a)
        assert [r.id for r in await a.interrupt_unfinished_runs(at=utcnow())] == [run_id]
