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
from psad.store import Store, utcnow


PROGRESS_EVERY = 5.0
"""Seconds between progress reports while a sync runs."""


async def sync_once(config: Config, integration: IntegrationConfig, *, full: bool,
                    requested_by: str,
                    on_progress: Callable[[RunProgress], None] | None = None,
                    every: float = PROGRESS_EVERY) -> RunReport:
    """Sync ``integration`` once; ``on_progress`` hears how far it got every ``every`` s."""
    tune_interpreter()
    gc.freeze()  # start-up objects (modules, config) stay out of every collection
    store = await Store.open(config.database)
    try:
        await store.interrupt_unfinished_runs(at=utcnow())
        async with aiohttp.ClientSession() as session:
            connector = await build_connector(integration, session, config.sync)
            run_id = await store.create_run(integration.name, "manual", requested_by,
                                            full=full, queued_at=utcnow())
            progress = RunProgress()
            reporter = asyncio.create_task(_report(progress, on_progress, every)) \
                if on_progress else None
            try:
                return await SyncEngine(store, config.sync).run(run_id, connector, full=full,
                                                                progress=progress)
            finally:
                if reporter is not None:
                    reporter.cancel()
                    await asyncio.gather(reporter, return_exceptions=True)
                await connector.close()
    finally:
        await store.close()


async def _report(progress: RunProgress, on_progress: Callable[[RunProgress], None],
                  every: float) -> None:
    while True:
        await asyncio.sleep(every)
        if progress.entities:
            on_progress(progress)
