"""The sync queue: priority, dedupe, follow-ups, positions, graceful stop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from psad.queue import QueuedRun, SyncQueue
from psad.store.contract import StoreContract


class Recorder:
    """An execute callback that holds each run until released."""

    def __init__(self) -> None:
        self.started: list[QueuedRun] = []
        self.release: dict[int, asyncio.Event] = {}
        self.started_event = asyncio.Event()

    async def __call__(self, run: QueuedRun, stop: asyncio.Event) -> None:
        self.started.append(run)
        self.started_event.set()
        gate = self.release.setdefault(run.run_id, asyncio.Event())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([asyncio.create_task(gate.wait()), stopper],
                           return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()

    async def wait_started(self, count: int) -> None:
        while len(self.started) < count:
            self.started_event.clear()
            await asyncio.wait_for(self.started_event.wait(), 5)

    def finish(self, run_id: int) -> None:
        self.release.setdefault(run_id, asyncio.Event()).set()


async def test_force_sync_runs_before_already_queued_nightly_runs(store: StoreContract) -> None:
    recorder = Recorder()
    queue = SyncQueue(store, recorder, workers=1)
    blocker = await queue.submit("busy", "nightly", "schedule")
    queue.start()
    await recorder.wait_started(1)
    nightly = [await queue.submit(f"n{i}", "nightly", "schedule") for i in range(5)]
    forced = await queue.submit("urgent", "force", "web:alice")
    assert forced.position == 1
    assert [queue.position(s.run_id) for s in nightly] == [2, 3, 4, 5, 6]
    recorder.finish(blocker.run_id)
    await recorder.wait_started(2)
    assert recorder.started[1].integration == "urgent"
    await queue.stop(timeout=5)


async def test_concurrent_force_requests_for_one_integration_queue_one_run(store: StoreContract) -> None:
    recorder = Recorder()
    queue = SyncQueue(store, recorder, workers=1)
    results = await asyncio.gather(*(queue.submit("acme", "force", f"u{i}") for i in range(100)))
    assert len({r.run_id for r in results}) == 1
    assert sum(not r.deduplicated for r in results) == 1
    runs = await store.list_runs(integration="acme")
    assert len(runs) == 1


async def test_queued_nightly_is_upgraded_to_force_and_moves_ahead(store: StoreContract) -> None:
    queue = SyncQueue(store, Recorder(), workers=1)
    first = await queue.submit("a", "nightly", "schedule")
    second = await queue.submit("b", "nightly", "schedule")
    upgraded = await queue.submit("b", "force", "web:bob", full=True)
    assert upgraded.run_id == second.run_id and upgraded.deduplicated
    assert queue.position(second.run_id) == 1 and queue.position(first.run_id) == 2
    detail = await store.get_run(second.run_id)
    assert detail
    run = detail.run
    assert (run.trigger, run.requested_by, run.full_sync) == ("force", "web:bob", True)


async def test_request_during_a_run_queues_exactly_one_follow_up(store: StoreContract) -> None:
    recorder = Recorder()
    queue = SyncQueue(store, recorder, workers=2)
    queue.start()
    first = await queue.submit("acme", "force", "u")
    await recorder.wait_started(1)
    follow = [await queue.submit("acme", "force", f"u{i}") for i in range(10)]
    assert len({f.run_id for f in follow}) == 1 and follow[0].run_id != first.run_id
    # two workers, but the follow-up waits for the running sync of the same integration
    await asyncio.sleep(0.05)
    assert len(recorder.started) == 1
    recorder.finish(first.run_id)
    await recorder.wait_started(2)
    assert recorder.started[1].run_id == follow[0].run_id
    await queue.stop(timeout=5)


async def test_stop_refuses_new_work_and_ends_running_syncs(store: StoreContract) -> None:
    recorder = Recorder()
    queue = SyncQueue(store, recorder, workers=1)
    queue.start()
    await queue.submit("acme", "force", "u")
    await recorder.wait_started(1)
    await queue.stop(timeout=5)
    try:
        await queue.submit("acme", "force", "u")
    except Exception as err:
        assert type(err).__name__ == "QueueClosed"
    else:
        raise AssertionError("submit after stop must fail")


async def test_two_workers_closing_one_failed_run_both_keep_working(
        store: StoreContract, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker error's run is closed while another worker starts the follow-up: the
    second worker must not die on the first one's bookkeeping (its run then hung)."""
    recorder = Recorder()
    closing = asyncio.Event()
    close_may_finish = asyncio.Event()
    real_close = store.close_run

    async def slow_close(run_id: int, **kwargs: Any) -> bool:
        closing.set()
        await close_may_finish.wait()
        return await real_close(run_id, **kwargs)

    monkeypatch.setattr(store, "close_run", slow_close)

    async def execute(run: QueuedRun, stop: asyncio.Event) -> None:
        if run.integration == "broken":
            raise OSError("database or disk is full")
        await recorder(run, stop)

    queue = SyncQueue(store, execute, workers=2)
    queue.start()
    failed = await queue.submit("broken", "force", "u")
    await asyncio.wait_for(closing.wait(), 5)
    other = await queue.submit("acme", "force", "u")
    await asyncio.sleep(0.05)
    close_may_finish.set()
    await recorder.wait_started(1)
    assert recorder.started[0].run_id == other.run_id
    recorder.finish(other.run_id)
    detail = await store.get_run(failed.run_id)
    assert detail is not None and detail.run.outcome == "failed"
    assert "database or disk is full" in (detail.run.error or "")
    assert all(not task.done() for task in queue._tasks)
    await queue.stop(timeout=5)
