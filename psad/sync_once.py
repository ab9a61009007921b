"""One sync, in this process, without the daemon (``psad sync-once``)."""

from __future__ import annotations

import gc

import aiohttp

from psad.config import Config, IntegrationConfig
from psad.connectors import build_connector
from psad.engine import RunReport, SyncEngine
from psad.interpreter import tune_interpreter
from psad.store import utcnow
from psad.store.factory import open_store


async def sync_once(config: Config, integration: IntegrationConfig, *, full: bool,
                    requested_by: str) -> RunReport:
    tune_interpreter()
    gc.freeze()  # start-up objects (modules, config) stay out of every collection
    store = await open_store(config.database)
    try:
        await store.interrupt_unfinished_runs(at=utcnow())
        async with aiohttp.ClientSession() as session:
            connector = await build_connector(integration, session, config.sync)
            run_id = await store.create_run(integration.name, "manual", requested_by,
                                            full=full, queued_at=utcnow())
            try:
                return await SyncEngine(store, config.sync).run(run_id, connector, full=full)
            finally:
                await connector.close()
    finally:
        await store.close()
