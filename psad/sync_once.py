"""One sync, in this process, without the daemon (``psad sync-once``)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

import aiohttp

from psad.config import Config, IntegrationConfig
from psad.connectors import build_connector
from psad.engine import RunReport, SyncEngine
from psad.interpreter import tune_interpreter
from psad.progress import RunProgress
from psad.store import utcnow
from psad.store.contract import StoreContract
from psad.store.factory import open_store
from psad.store.postgres import PostgresStore


PROGRESS_EVERY = 5.0
"""Seconds between progress reports while a sync runs."""


async def sync_once(config: Config, integration: IntegrationConfig, *, full: bool,
                    requested_by: str,
                    on_progress: Callable[[RunProgress], None] | None = None,
                    every: float = PROGRESS_EVERY) -> RunReport:
    """Sync ``integration`` once; ``on_progress`` hears how far it got every ``every`` s."""
    tune_interpreter()
    gc.freeze()  # start-up objects (modules, config) stay out of every collection
    store = await open_store(config.database, run_lease_seconds=config.sync.run_lease_seconds)
    try:
        async with aiohttp.ClientSession() as session:
            connector = await build_connector(integration, session, config.sync)
            try:
                run_id = await _start(store, integration.name, full=full,
                                      requested_by=requested_by)
                progress = RunProgress()
                reporter = asyncio.create_task(_report(progress, on_progress, every)) \
                    if on_progress else None
                try:
                    report = await SyncEngine(store, config.sync).run(
                        run_id, connector, full=full, progress=progress)
                finally:
                    if reporter is not None:
                        reporter.cancel()
                        await asyncio.gather(reporter, return_exceptions=True)
            finally:
                await connector.close()
        if isinstance(store, PostgresStore):
            await store.queue_changed()  # a run queued behind this one may start now
        return report
    finally:
        await store.close()


async def _start(store: StoreContract, integration: str, *, full: bool,
                 requested_by: str) -> int:
    """This sync's run, started.

    SQLite has one process at a time: what a dead one left unfinished is
    interrupted. On a database instances share, only runs whose instance stopped
    renewing their lease are (and queued again, as the daemons do), and the run
    goes through the shared queue under the daemons' rules
    (:meth:`PostgresStore.start_now`): it joins the integration's queued run,
    never starts while the integration runs anywhere (:class:`IntegrationBusy`),
    and is leased to this process, so a killed sync-once is run again like a
    killed instance's work.
    """
    if isinstance(store, PostgresStore):
        await store.requeue_lapsed_runs(at=utcnow())
        return await store.start_now(integration, "manual", requested_by, full=full,
                                     at=utcnow())
    await store.interrupt_unfinished_runs(at=utcnow())
    return await store.create_run(integration, "manual", requested_by, full=full,
                                  queued_at=utcnow())


async def _report(progress: RunProgress, on_progress: Callable[[RunProgress], None],
                  every: float) -> None:
    while True:
        await asyncio.sleep(every)
        if progress.entities:
            on_progress(progress)
