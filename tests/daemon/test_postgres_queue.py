"""The queue as a PostgreSQL table shared by instances: its rules hold across all of them.

Each "instance" here is a store (own pool, own name, own leases) with its own
:class:`TableQueue` and workers, in one test process; ``tests/multi/`` proves
the same with real ``psad run`` processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timezone
from typing import Any

import pytest

from psad import table_queue
from psad.model import Asset, Entity
from psad.queue import QueuedRun
from psad.store import utcnow
from psad.store.postgres import PostgresStore
from psad.table_queue import TableQueue

NIGHT = datetime(2026, 3, 1, 4, 0, tzinfo=timezone.utc)


class Worker:
    """An execute callback holding each run until released; a stop interrupts it."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.started: list[QueuedRun] = []
        self.release: dict[int, asyncio.Event] = {}

    async def __call__(self, run: QueuedRun, stop: asyncio.Event) -> None:
        self.started.append(run)
        gate = self.release.setdefault(run.run_id, asyncio.Event())
        done = asyncio.create_task(gate.wait())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([done, stopped], return_when=asyncio.FIRST_COMPLETED)
        done.cancel()
        stopped.cancel()
        outcome = "succeeded" if gate.is_set() else "interrupted"
        await self.store.update_run(run.run_id, outcome=outcome, finished_at=utcnow())

    def finish(self, run_id: int) -> None:
        self.release.setdefault(run_id, asyncio.Event()).set()


async def until(check: Callable[[], Any], timeout: float = 15.0) -> None:
    """Wait for ``check()`` (a truthy value, or an awaitable of one)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


@asynccontextmanager
async def instance(url: str, *, workers: int = 1, lease: float = 60.0, start: bool = True
                   ) -> AsyncIterator[tuple[TableQueue, Worker]]:
    store = await PostgresStore.open(url, lease_seconds=lease)
    worker = Worker(store)
    queue = TableQueue(store, worker, workers=workers, lease_seconds=lease)
    if start:
        queue.start()
    try:
        yield queue, worker
    finally:
        await queue.stop(timeout=5)
        await store.close()


async def outcomes(queue: TableQueue, integration: str) -> list[str]:
    return [r.outcome for r in reversed(await queue.store.list_runs(integration=integration))]


async def test_force_sync_requests_on_every_instance_queue_one_run_and_one_follow_up(
        postgres_url: str) -> None:
    async with AsyncExitStack() as stack:
        a, wa = await stack.enter_async_context(instance(postgres_url, start=False))
        b, wb = await stack.enter_async_context(instance(postgres_url, start=False))
        first = await asyncio.gather(*(q.submit("acme", "force", f"u{i}")
                                       for i in range(40) for q in (a, b)))
        assert len({s.run_id for s in first}) == 1
        assert sum(not s.deduplicated for s in first) == 1
        a.start()
        b.start()
        await until(lambda: wa.started or wb.started)
        again = await asyncio.gather(*(q.submit("acme", "force", f"v{i}")
                                       for i in range(40) for q in (a, b)))
        assert len({s.run_id for s in again}) == 1 and again[0].run_id != first[0].run_id
        assert await outcomes(a, "acme") == ["running", "queued"]
        view = await b.view()
        assert view.position(again[0].run_id) == 1 and set(view.running) == {"acme"}
        for worker in (wa, wb):
            for run in worker.started:
                worker.finish(run.run_id)
        # the follow-up starts only once the first run ended, on whichever instance
        await until(lambda: len(wa.started) + len(wb.started) == 2)
        for worker in (wa, wb):
            for run in worker.started:
                worker.finish(run.run_id)
        await until(lambda: _all_ended(a, "acme"))
        assert await outcomes(a, "acme") == ["succeeded", "succeeded"]


async def _all_ended(queue: TableQueue, integration: str) -> bool:
    return all(o not in ("queued", "running") for o in await outcomes(queue, integration))


async def test_a_force_sync_is_claimed_before_older_nightly_runs_and_upgrades_a_queued_one(
        postgres_url: str) -> None:
    async with instance(postgres_url, start=False) as (a, wa), \
            instance(postgres_url, start=False) as (b, _):
        nightly = [await a.submit(f"n{i}", "nightly", "schedule") for i in range(3)]
        forced = await b.submit("urgent", "force", "web:alice")
        upgraded = await b.submit("n2", "force", "web:bob", full=True)
        assert forced.position == 1 and upgraded.run_id == nightly[2].run_id
        # upgraded, it keeps its age: ahead of the younger force run, as in memory
        assert upgraded.position == 1 and upgraded.deduplicated
        assert [r.integration for r in (await a.view()).waiting] == ["n2", "urgent", "n0", "n1"]
        a.start()
        await until(lambda: wa.started)
        assert (wa.started[0].integration, wa.started[0].full) == ("n2", True)
        wa.finish(wa.started[0].run_id)
        await until(lambda: len(wa.started) == 2)
        assert (wa.started[1].integration, wa.started[1].trigger) == ("urgent", "force")


async def test_one_night_is_queued_once_whichever_instances_fire_it(postgres_url: str) -> None:
    async with instance(postgres_url, start=False) as (a, wa), \
            instance(postgres_url, start=False) as (b, _):
        fired = await asyncio.gather(*(q.submit(f"i{n}", "nightly", "schedule",
                                                scheduled_for=NIGHT)
                                       for n in range(20) for q in (a, b, a)))
        assert len({s.run_id for s in fired}) == 20
        a.start()
        await until(lambda: wa.started)
        wa.finish(wa.started[0].run_id)
        await until(lambda: len(wa.started) == 2)
        # an instance whose schedule fires late, after the night's run ended: still one run
        late = await b.submit(wa.started[0].integration, "nightly", "schedule",
                              scheduled_for=NIGHT)
        assert late.run_id == wa.started[0].run_id and late.deduplicated
        assert await a.store.run_count() == 20


async def test_an_idle_worker_wakes_on_a_notification_from_another_instance(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_queue, "POLL_SECONDS", 3600.0)  # only a NOTIFY can wake it
    async with instance(postgres_url) as (b, wb):
        await asyncio.sleep(0.5)  # b's worker found nothing and sleeps; its listener listens
        other = await PostgresStore.open(postgres_url)
        try:
            queued = await other.enqueue("acme", "force", "web:carol", full=False,
                                         queued_at=utcnow())
        finally:
            await other.close()
        await until(lambda: wb.started)
        assert wb.started[0].run_id == queued.run_id


async def test_a_dead_instances_run_is_interrupted_and_run_again_elsewhere(
        postgres_url: str) -> None:
    async with instance(postgres_url, lease=1.5, start=False) as (b, wb):
        dead = await PostgresStore.open(postgres_url, lease_seconds=1.5)
        queued = await dead.enqueue("acme", "nightly", "schedule", full=True,
                                    queued_at=utcnow())
        claimed = await dead.claim_next(at=utcnow())
        assert claimed is not None and claimed.id == queued.run_id
        await dead.close()  # gone without a word: nothing renews its lease any more
        b.start()
        await until(lambda: wb.started, timeout=20)
        again = wb.started[0]
        assert (again.trigger, again.requested_by, again.full) == (
            "startup", f"resume of run {queued.run_id}", True)
        detail = await b.store.get_run(queued.run_id)
        assert detail is not None and detail.run.outcome == "interrupted"
        assert "stopped renewing" in (detail.run.error or "")


async def test_a_live_instances_running_run_is_left_alone(postgres_url: str) -> None:
    async with instance(postgres_url, lease=1.5) as (a, wa), \
            instance(postgres_url, lease=1.5) as (b, wb):
        run = await a.submit("acme", "force", "web:dan")
        await until(lambda: wa.started or wb.started)
        await asyncio.sleep(4)  # well past the lease: renewals keep it its instance's
        assert await outcomes(a, "acme") == ["running"]
        for worker in (wa, wb):
            worker.finish(run.run_id)
        await until(lambda: _all_ended(b, "acme"))
        assert await outcomes(b, "acme") == ["succeeded"]


async def test_a_stopping_instance_hands_its_interrupted_run_back_to_the_queue(
        postgres_url: str) -> None:
    async with instance(postgres_url, start=False) as (b, wb):
        async with instance(postgres_url) as (a, wa):
            run = await a.submit("acme", "force", "web:erin")
            await until(lambda: wa.started)
        # a stopped: its run ended interrupted after its page and is queued again
        assert await outcomes(b, "acme") == ["interrupted", "queued"]
        b.start()
        await until(lambda: wb.started)
        assert wb.started[0].requested_by == f"resume of run {run.run_id}"


async def test_a_removed_integrations_queued_run_is_cancelled_for_every_instance(
        postgres_url: str) -> None:
    async with instance(postgres_url, start=False) as (a, _), \
            instance(postgres_url, start=False) as (b, _):
        await a.submit("gone", "nightly", "schedule")
        await b.cancel_waiting("gone", "integration removed from the config")
        assert await outcomes(a, "gone") == ["cancelled"]
        assert (await a.view()).waiting == ()


async def test_an_instance_that_lost_its_run_can_neither_sweep_nor_finish_it(
        postgres_url: str) -> None:
    cut_off = await PostgresStore.open(postgres_url, lease_seconds=1.5)
    survivor = await PostgresStore.open(postgres_url, lease_seconds=1.5)
    try:
        cut_off._renewer.cancel()  # alive, but its renewals no longer reach the database
        stored = [Asset(psa_id=str(i), company_psa_id="1", name=f"PC-{i}") for i in range(3)]
        await cut_off.apply_page("acme", Entity.ASSET, stored, now=utcnow())
        await cut_off.enqueue("acme", "nightly", "schedule", full=True, queued_at=utcnow())
        run = await cut_off.claim_next(at=utcnow())
        assert run is not None
        await cut_off.remember_seen(run.id, Entity.ASSET, ["0", "1", "2"])
        await asyncio.sleep(2)
        assert [r.id for r in await survivor.requeue_lapsed_runs(at=utcnow())] == [run.id]
        # back in touch, it carries on where it was: nothing deleted, nothing claimed
        swept = await cut_off.sweep("acme", Entity.ASSET, run.id, now=utcnow(),
                                    written_since=utcnow(), max_share=1.0)
        assert swept.deleted == 0 and await survivor.live_count("acme", Entity.ASSET) == 3
        await cut_off.update_run(run.id, outcome="succeeded", finished_at=utcnow())
        detail = await survivor.get_run(run.id)
        assert detail is not None and detail.run.outcome == "interrupted"
    finally:
        await cut_off.close()
        await survivor.close()
