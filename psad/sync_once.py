"""One sync, in this process, without the daemon (``psad sync-once``)."""

from __future__ import annotations

import aiohttp

from psad.config import Config, IntegrationConfig
from psad.connectors import build_connector
from psad.engine import RunReport, SyncEngine, favour_the_event_loop
from psad.store import Store, utcnow


async def sync_once(config: Config, integration: IntegrationConfig, *, full: bool,
                    requested_by: str) -> RunReport:
    favour_the_event_loop()
    store = await Store.open(config.database)
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
