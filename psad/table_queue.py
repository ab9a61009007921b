"""The sync queue as a table several psad instances share (PostgreSQL).

The queued rows of the sync log are the queue; the store enforces its rules
for every instance at once (:class:`psad.store.contract.SharedQueueStore`):
one queued and one running run per integration, Force Sync joining a queued
run, one run per scheduled night, and each run claimed by one instance with
``SELECT … FOR UPDATE SKIP LOCKED`` (force before nightly, then age).

Each instance runs its own workers. An idle worker sleeps until a
notification says the queue changed (LISTEN/NOTIFY on a connection of its
own), or for :data:`POLL_SECONDS` at most, so a Force Sync starts at once
wherever a worker is free. A claimed run is leased to its instance, which
renews the lease while it lives; every instance looks for lapsed leases and
queues those runs again, so a killed instance's work is redone elsewhere.
A stopping instance lets its running syncs end after their page and queues
each one it interrupted again, for a live instance to finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from psad.queue import (PRIORITY, Execute, QueueClosed, QueuedRun, QueueView, Submission,
                        SyncQueue)
from psad.store import parse_ts, utcnow
from psad.store.contract import RunRecord, SharedQueueStore

log = logging.getLogger("psad.queue")

POLL_SECONDS = 1.0
"""Longest an idle worker sleeps without a notification (one lost while reconnecting)."""
REFRESH_SECONDS = 2.0
"""How often an instance refreshes its queue metrics and looks for lapsed leases (at most;
a third of the lease when that is shorter)."""


def queued_run(run: RunRecord) -> QueuedRun:
    """A queued or running row of the shared queue as the runtime sees queue entries."""
    queued_at = parse_ts(run.queued_at)
    assert queued_at is not None
    return QueuedRun(run.id, run.integration, run.trigger, run.requested_by, run.full_sync,
                     queued_at, run.id, started_at=parse_ts(run.started_at),
                     current_entity=run.current_entity)


class TableQueue(SyncQueue):
    """:class:`psad.queue.RunQueue` on the shared table; ``waiting`` is the last view."""

    store: SharedQueueStore

    def __init__(self, store: SharedQueueStore, execute: Execute, *, workers: int = 2,
                 lease_seconds: float, on_change: Callable[[], None] | None = None) -> None:
        super().__init__(store, execute, workers=workers, on_change=on_change)
        self.instance = store.instance
        self._bell = asyncio.Event()
        """Set (and replaced) whenever the queue may have work: idle workers wake."""
        self._refresh = min(REFRESH_SECONDS, lease_seconds / 3)
        self._helpers: list[asyncio.Task[None]] = []

    # -- asking ----------------------------------------------------------------

    async def submit(self, integration: str, trigger: str, requested_by: str, *,
                     full: bool = False, scheduled_for: datetime | None = None) -> Submission:
        if trigger not in PRIORITY:
            raise ValueError(f"unknown trigger {trigger!r}")
        if self._closed:
            raise QueueClosed("psad is stopping")
        result = await self.store.enqueue(integration, trigger, requested_by, full=full,
                                          queued_at=utcnow(), scheduled_for=scheduled_for)
        if not result.deduplicated:
            log.info("integration=%s run=%d queued (%s by %s, position %d)", integration,
                     result.run_id, trigger, requested_by, result.position)
            self._ring()
        return Submission(result.run_id, result.position, result.deduplicated)

    async def view(self) -> QueueView:
        """The table's queued and running runs; this instance's running ones with their
        live progress."""
        waiting: list[QueuedRun] = []
        running: dict[str, QueuedRun] = {}
        for run in await self.store.queue_runs():
            if run.outcome == "queued":
                waiting.append(queued_run(run))
                continue
            mine = self.running.get(run.integration)
            running[run.integration] = mine if mine and mine.run_id == run.id else queued_run(run)
        self.waiting = waiting
        self._changed()
        return QueueView(tuple(waiting), running)

    def oldest_wait_seconds(self) -> float:
        if not self.waiting:
            return 0.0
        return (utcnow() - min(r.queued_at for r in self.waiting)).total_seconds()

    async def cancel_waiting(self, integration: str, reason: str) -> None:
        if await self.store.cancel_queued(integration, reason, at=utcnow()):
            log.info("integration=%s queued run cancelled: %s", integration, reason)
            self._changed()

    # -- working ---------------------------------------------------------------

    def start(self) -> None:
        super().start()
        self._helpers = [
            asyncio.create_task(self.store.listen_queue(self._ring), name="psad-queue-listen"),
            asyncio.create_task(self._housekeeping(), name="psad-queue-housekeeping")]

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop working here; runs interrupted by the stop are queued again for another
        instance (or this one's next start)."""
        running = list(self.running.values())
        await super().stop(timeout=timeout)
        for task in self._helpers:
            task.cancel()
        await asyncio.gather(*self._helpers, return_exceptions=True)
        for entry in running:
            try:
                detail = await self.store.get_run(entry.run_id)
                if detail is None or detail.run.outcome != "interrupted":
                    continue
                again = await self.store.enqueue(
                    entry.integration, "startup", f"resume of run {entry.run_id}",
                    full=entry.full, queued_at=utcnow())
            except Exception as err:
                log.warning("integration=%s run=%d not handed back (%s); its lease lapses and "
                            "another instance runs it again", entry.integration, entry.run_id,
                            err)
                continue
            log.info("integration=%s run=%d interrupted by the stop; handed back as run %d",
                     entry.integration, entry.run_id, again.run_id)

    async def _worker(self, number: int) -> None:
        while not self.stop_event.is_set():
            bell = self._bell
            await self._close_unclosed()
            try:
                run = await self.store.claim_next(at=utcnow())
            except Exception as err:
                log.warning("worker %d cannot claim a run (%s); trying again", number, err)
                run = None
            if run is None:
                await self._idle(bell)
                continue
            entry = queued_run(run)
            self.running[entry.integration] = entry
            await self._run(entry)
            try:  # the integration is free: its follow-up may start anywhere
                await self.store.queue_changed()
            except Exception as err:
                log.warning("cannot tell other instances the queue changed: %s", err)

    async def _idle(self, bell: asyncio.Event) -> None:
        """Sleep until the queue changes (or the poll interval passes, or psad stops)."""
        if self.stop_event.is_set():
            return
        try:
            await asyncio.wait_for(bell.wait(), POLL_SECONDS)
        except asyncio.TimeoutError:
            pass

    async def _housekeeping(self) -> None:
        """Keep the queue metrics fresh and run again what dead instances left running."""
        while True:
            await asyncio.sleep(self._refresh)
            try:
                for run in await self.store.requeue_lapsed_runs(at=utcnow()):
                    log.warning("integration=%s run=%d lost its instance's lease; interrupted "
                                "and queued again", run.integration, run.id)
                await self.view()
            except Exception as err:
                log.warning("queue housekeeping failed (%s); trying again", err)

    def _ring(self) -> None:
        bell, self._bell = self._bell, asyncio.Event()
        bell.set()

    async def _notify(self) -> None:
        self._ring()
        await super()._notify()
