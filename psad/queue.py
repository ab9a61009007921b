"""The sync queue: force syncs ahead of nightly work, deduplicated, with workers.

Rules:
- at most one waiting and one running run per integration;
- asking for an integration that is already waiting returns that run (a
  waiting nightly run is upgraded to force and moves ahead);
- asking while it runs queues exactly one follow-up;
- a worker takes the highest-priority waiting run whose integration is idle;
- every request gets its run id (a row in the sync log) at once.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from psad.progress import RunProgress
from psad.store import utcnow
from psad.store.contract import TRIGGER_PRIORITY, StoreContract

log = logging.getLogger("psad.queue")

PRIORITY = TRIGGER_PRIORITY


@dataclass(slots=True)
class QueuedRun:
    run_id: int
    integration: str
    trigger: str
    requested_by: str
    full: bool
    queued_at: datetime
    seq: int
    queued_monotonic: float = field(default_factory=time.monotonic)
    started_at: datetime | None = None
    current_entity: str | None = None
    progress: RunProgress = field(default_factory=RunProgress)
    """Live counts while it runs (see :mod:`psad.progress`)."""

    @property
    def sort_key(self) -> tuple[int, int]:
        return PRIORITY[self.trigger], self.seq


@dataclass(frozen=True, slots=True)
class Submission:
    run_id: int
    position: int
    """1-based place among waiting runs; 0 if it already started."""
    deduplicated: bool


@dataclass(frozen=True, slots=True)
class QueueView:
    """The queue at one moment: waiting runs in start order, running runs by integration."""

    waiting: tuple[QueuedRun, ...]
    running: dict[str, QueuedRun]

    def position(self, run_id: int) -> int | None:
        """1-based place among waiting runs, None if not waiting."""
        return next((n for n, r in enumerate(self.waiting, start=1) if r.run_id == run_id), None)

    def waiting_for(self, integration: str) -> QueuedRun | None:
        return next((r for r in self.waiting if r.integration == integration), None)


Execute = Callable[[QueuedRun, asyncio.Event], Awaitable[None]]


class QueueClosed(Exception):
    """The daemon is stopping and takes no new work."""


class RunQueue(Protocol):
    """What the runtime, web and scheduler use of a queue: :class:`SyncQueue` in memory
    (SQLite, one process) or :class:`psad.table_queue.TableQueue` (PostgreSQL, shared)."""

    instance: str
    """This process's name (host, process id), as ``/metrics`` shows it."""
    running: dict[str, QueuedRun]
    """The runs this process works on now, by integration (with their live progress)."""
    stop_event: asyncio.Event

    @property
    def waiting(self) -> Sequence[QueuedRun]:
        """Waiting runs in start order, as last seen (cheap: for metrics and status)."""

    async def submit(self, integration: str, trigger: str, requested_by: str, *,
                     full: bool = False, scheduled_for: datetime | None = None) -> Submission:
        """Queue a run or join the one waiting; raises :class:`QueueClosed` when stopping."""

    async def view(self) -> QueueView:
        """Waiting and running runs as every instance sees them now."""

    async def cancel_waiting(self, integration: str, reason: str) -> None:
        """Drop an integration's waiting run (it was removed from the config)."""

    def oldest_wait_seconds(self) -> float:
        """Age of the longest-waiting run, as last seen."""

    def start(self) -> None:
        """Start the workers on the running loop."""

    async def stop(self, timeout: float = 30.0) -> None:
        """Take no new work and let running syncs end after their page."""


class SyncQueue:
    def __init__(self, store: StoreContract, execute: Execute, *, workers: int = 2,
                 on_change: Callable[[], None] | None = None) -> None:
        self.store = store
        self.execute = execute
        self.workers = workers
        self.on_change = on_change
        self.instance = f"{socket.gethostname()}:{os.getpid()}"
        self.waiting: list[QueuedRun] = []
        self.running: dict[str, QueuedRun] = {}
        self.stop_event = asyncio.Event()
        self._seq = itertools.count()
        self._lock = asyncio.Lock()
        self._wakeup = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._unclosed: dict[int, str] = {}
        """Runs a worker error left open, with the error to close them with."""
        self._closing = asyncio.Lock()
        """One closer at a time: two workers closing the same run raced to forget it."""

    # -- asking ----------------------------------------------------------------

    async def submit(self, integration: str, trigger: str, requested_by: str, *,
                     full: bool = False, scheduled_for: datetime | None = None) -> Submission:
        if trigger not in PRIORITY:
            raise ValueError(f"unknown trigger {trigger!r}")
        async with self._lock:
            if self._closed:
                raise QueueClosed("psad is stopping")
            existing = self._waiting_for(integration)
            if existing is not None:
                await self._merge(existing, trigger, requested_by, full)
                return Submission(existing.run_id, self.position(existing.run_id) or 0, True)
            now = utcnow()
            run_id = await self.store.create_run(integration, trigger, requested_by, full=full,
                                                 queued_at=now, scheduled_for=scheduled_for)
            entry = QueuedRun(run_id, integration, trigger, requested_by, full, now,
                              next(self._seq))
            self.waiting.append(entry)
            self.waiting.sort(key=lambda r: r.sort_key)
            position = self.position(run_id) or 0
        log.info("integration=%s run=%d queued (%s by %s, position %d%s)", integration, run_id,
                 trigger, requested_by, position,
                 ", follow-up to the running sync" if integration in self.running else "")
        await self._notify()
        return Submission(run_id, position, False)

    async def _merge(self, entry: QueuedRun, trigger: str, requested_by: str, full: bool) -> None:
        changes: dict[str, object] = {}
        if PRIORITY[trigger] < PRIORITY[entry.trigger]:
            entry.trigger, entry.requested_by = trigger, requested_by
            changes.update(trigger=trigger, requested_by=requested_by)
            self.waiting.sort(key=lambda r: r.sort_key)
        if full and not entry.full:
            entry.full = True
            changes["full_sync"] = 1
        if changes:
            await self.store.update_run(entry.run_id, **changes)
            log.info("integration=%s run=%d already queued; now %s%s", entry.integration,
                     entry.run_id, entry.trigger, " (full)" if entry.full else "")
            self._changed()

    def _waiting_for(self, integration: str) -> QueuedRun | None:
        return next((r for r in self.waiting if r.integration == integration), None)

    def position(self, run_id: int) -> int | None:
        for index, entry in enumerate(self.waiting, start=1):
            if entry.run_id == run_id:
                return index
        return None

    async def view(self) -> QueueView:
        return QueueView(tuple(self.waiting), dict(self.running))

    def oldest_wait_seconds(self) -> float:
        if not self.waiting:
            return 0.0
        return time.monotonic() - min(r.queued_monotonic for r in self.waiting)

    async def cancel_waiting(self, integration: str, reason: str) -> None:
        """Drop an integration's waiting run (it was removed from the config)."""
        async with self._lock:
            entry = self._waiting_for(integration)
            if entry is None:
                return
            self.waiting.remove(entry)
            await self.store.update_run(entry.run_id, outcome="cancelled", error=reason,
                                        finished_at=utcnow())
        self._changed()

    # -- working ---------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(n), name=f"psad-worker-{n}")
                       for n in range(self.workers)]

    async def stop(self, timeout: float = 30.0) -> None:
        """Take no new work, ask running syncs to end after their page, then wait."""
        async with self._lock:
            self._closed = True
        self.stop_event.set()
        await self._notify()
        if not self._tasks:
            return
        done, pending = await asyncio.wait(self._tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("cancelled %d sync(s) still running after %.0fs", len(pending), timeout)
            await asyncio.gather(*pending, return_exceptions=True)
        await self._close_unclosed()
        log.info("queue stopped; %d run(s) left waiting resume at the next start",
                 len(self.waiting))

    async def _worker(self, number: int) -> None:
        while True:
            async with self._wakeup:
                entry = self._next()
                while entry is None:
                    if self.stop_event.is_set():
                        return
                    await self._wakeup.wait()
                    entry = self._next()
                self.waiting.remove(entry)
                entry.started_at = utcnow()
                self.running[entry.integration] = entry
            await self._run(entry)
            await self._notify()

    async def _run(self, entry: QueuedRun) -> None:
        """Execute one run now in :attr:`running`; a worker error leaves it for
        :meth:`_close_unclosed`, and the integration is free again afterwards."""
        self._changed()
        try:
            await self._close_unclosed()
            await self.execute(entry, self.stop_event)
        except Exception as err:
            log.exception("integration=%s run=%d worker error", entry.integration,
                          entry.run_id)
            self._unclosed[entry.run_id] = f"worker error: {type(err).__name__}: {err}"
        finally:
            self.running.pop(entry.integration, None)
            self._changed()
        await self._close_unclosed()

    async def _close_unclosed(self) -> None:
        """End runs a worker error left queued or running as ``failed``.

        The error may be the store's own (a full disk), so a close that fails
        is tried again before the next run and at stop; a run still open then
        is closed at the next start (:meth:`Store.interrupt_unfinished_runs`).
        """
        async with self._closing:
            for run_id, error in list(self._unclosed.items()):
                try:
                    await self.store.close_run(run_id, outcome="failed", error=error,
                                               at=utcnow())
                except Exception as err:
                    log.warning("run=%d cannot be closed yet (%s); trying again later",
                                run_id, err)
                    return
                self._unclosed.pop(run_id, None)

    def _next(self) -> QueuedRun | None:
        if self.stop_event.is_set():
            return None
        return next((r for r in self.waiting if r.integration not in self.running), None)

    async def _notify(self) -> None:
        self._changed()
        async with self._wakeup:
            self._wakeup.notify_all()

    def _changed(self) -> None:
        if self.on_change:
            self.on_change()
