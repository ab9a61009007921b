"""The running daemon's parts and what ties them: config, store, queue, scheduler.

:class:`Runtime` is what the web layer and the lifecycle in
:mod:`psad.daemon` talk to. It executes queued runs (the worker body),
builds connectors on demand, and applies a reloaded config without losing
queued or running work.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from psad.config import Config, IntegrationConfig
from psad.errors import ConfigError
from psad.logs import register_secret
from psad.coalesce import Coalescer
from psad.connectors import build_connector
from psad.connectors.base import Connector
from psad.engine import SyncEngine
from psad.health import DatabaseHealth
from psad.metrics import Metrics
from psad.model import Entity
from psad.queue import QueuedRun, QueueView, RunQueue, SyncQueue
from psad.scheduler import NightlyScheduler
from psad.store import parse_ts, utcnow
from psad.store.contract import EntitySyncState, RunRecord, StoreContract
from psad.store.factory import open_store
from psad.store.postgres import PostgresStore
from psad.table_queue import TableQueue
from psad.tokens import Tokens

log = logging.getLogger("psad.runtime")


@dataclass(frozen=True, slots=True)
class IntegrationView:
    """What the API and dashboard show about one integration."""

    name: str
    kind: str
    enabled: bool
    schedule: str
    timezone: str
    next_run: datetime | None
    waiting: QueuedRun | None
    waiting_position: int | None
    running: QueuedRun | None


class Runtime:
    """Built before the loop runs; :meth:`open` and :meth:`start` bring it up in order."""

    store: StoreContract
    session: aiohttp.ClientSession
    health: DatabaseHealth
    engine: SyncEngine
    queue: RunQueue
    scheduler: NightlyScheduler
    tokens: Tokens

    def __init__(self, config: Config, metrics: Metrics) -> None:
        self.config = config
        self.metrics = metrics
        self._connectors: dict[str, Connector] = {}
        self._connector_lock = asyncio.Lock()
        self.ticket_coalescer = Coalescer()
        self._summaries = Coalescer()
        self.ready = False

    async def open(self) -> None:
        """Read the tokens, open the store (migrating it) and the HTTP session."""
        server = self.config.server
        if server.api_token is None:
            raise ConfigError(["server.api_token: is required to run the daemon"])
        api_token = await server.api_token.read()
        metrics_token = await server.metrics_token.read() if server.metrics_token else None
        for token in (api_token, metrics_token):
            if token:
                register_secret(token)
        self.tokens = Tokens(api_token, metrics_token)
        self.store = await open_store(self.config.database,
                                      run_lease_seconds=self.config.sync.run_lease_seconds)
        # No pool-wide cap: every PSA call goes through its integration's PsaClient,
        # whose request slots hold it to ``max_concurrency``; a pool cap below that
        # would silently queue live ticket calls behind a sync.
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=0))
        self.health = DatabaseHealth(self.store.ping)
        self.health.start()
        self.engine = SyncEngine(self.store, self.config.sync, self.metrics)
        self.queue = self._make_queue()
        self.metrics.instance_info.labels(self.queue.instance, self.store_kind).set(1)
        self.scheduler = NightlyScheduler(self.queue, self.config.sync.jitter_seconds)
        self.metrics.queue_oldest_age.set_function(self.queue.oldest_wait_seconds)
        self.metrics.watch_progress(
            lambda: [(r.integration, r.progress) for r in self.queue.running.values()])

    @property
    def store_kind(self) -> str:
        return "postgresql" if isinstance(self.store, PostgresStore) else "sqlite"

    def _make_queue(self) -> SyncQueue:
        """The queue in the shared database when there is one, else in this process."""
        sync = self.config.sync
        if isinstance(self.store, PostgresStore):
            return TableQueue(self.store, self.execute, workers=sync.workers,
                              lease_seconds=sync.run_lease_seconds,
                              on_change=self._queue_changed)
        return SyncQueue(self.store, self.execute, workers=sync.workers,
                         on_change=self._queue_changed)

    async def close(self) -> None:
        await self.health.stop()
        await self.session.close()
        await self.store.close()

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Resume what the last process left unfinished, start workers and schedule."""
        await self.store.interrupt_unfinished_runs(at=utcnow())
        await self._restore_gauges()
        self.queue.start()
        self.scheduler.start(self.config.integrations)
        for run in await self.store.latest_interrupted_runs():
            integration = self.config.integration(run.integration)
            if integration is None or not integration.enabled:
                continue
            log.info("integration=%s run=%d was interrupted; resuming it", run.integration,
                     run.id)
            await self.queue.submit(run.integration, "startup", f"resume of run {run.id}",
                                    full=run.full_sync)
        await self.scheduler.catch_up(self.store)
        self.ready = True

    async def _restore_gauges(self) -> None:
        """Last-success times survive restarts, so an overdue alert survives them too."""
        for integration in self.config.integrations:
            for entity, state in (await self.store.entity_states(integration.name)).items():
                if moment := parse_ts(state.last_success_at):
                    self.metrics.last_success.labels(integration.name, entity).set(
                        moment.timestamp())

    async def stop(self, timeout: float = 30.0) -> None:
        self.ready = False
        self.scheduler.shutdown()
        await self.queue.stop(timeout=timeout)
        for connector in self._connectors.values():
            await connector.close()
        self._connectors.clear()

    async def reload(self, config: Config) -> None:
        """Apply a new, already validated config; queued and running work is kept."""
        old = self.config
        self.config = config
        changed = {i.name for i in config.integrations if old.integration(i.name) != i}
        removed = {i.name for i in old.integrations if config.integration(i.name) is None}
        async with self._connector_lock:
            for name in changed | removed:
                connector = self._connectors.pop(name, None)
                if connector is not None and name not in self.queue.running:
                    await connector.close()
        for name in removed:
            await self.queue.cancel_waiting(name, "integration removed from the config")
        self.scheduler.apply(config.integrations)
        log.info("config reloaded: %d integration(s); changed %s, removed %s",
                 len(config.integrations), sorted(changed) or "none", sorted(removed) or "none")

    # -- work ----------------------------------------------------------------------

    async def connector(self, name: str) -> Connector:
        async with self._connector_lock:
            connector = self._connectors.get(name)
            if connector is None:
                integration = self.config.integration(name)
                if integration is None:
                    raise KeyError(name)
                connector = await build_connector(integration, self.session, self.config.sync,
                                                  self.metrics)
                self._connectors[name] = connector
            return connector

    async def execute(self, run: QueuedRun, stop: asyncio.Event) -> None:
        """The worker body: one queued run, start to finish."""
        self.metrics.running.inc()
        try:
            try:
                connector = await self.connector(run.integration)
            except Exception as err:
                reason = ("integration no longer configured" if isinstance(err, KeyError)
                          else f"cannot start: {err}")
                await self.store.update_run(run.run_id, outcome="failed", error=reason,
                                            started_at=utcnow(), finished_at=utcnow())
                self.metrics.runs.labels(run.integration, run.trigger, "failed").inc()
                log.error("integration=%s run=%d %s", run.integration, run.run_id, reason)
                return

            def on_entity(entities: str | None) -> None:
                run.current_entity = entities

            report = await self.engine.run(run.run_id, connector, full=run.full, stop=stop,
                                           on_entity=on_entity, progress=run.progress)
            self.metrics.runs.labels(run.integration, run.trigger, report.outcome).inc()
        finally:
            self.metrics.running.dec()

    def _queue_changed(self) -> None:
        self.metrics.queue_depth.set(len(self.queue.waiting))

    # -- views ---------------------------------------------------------------------

    def integration_view(self, integration: IntegrationConfig,
                         queue: QueueView) -> IntegrationView:
        waiting = queue.waiting_for(integration.name)
        return IntegrationView(
            name=integration.name, kind=integration.kind, enabled=integration.enabled,
            schedule=integration.schedule, timezone=integration.timezone,
            next_run=self.scheduler.next_run(integration.name) if integration.enabled else None,
            waiting=waiting,
            waiting_position=queue.position(waiting.run_id) if waiting else None,
            running=queue.running.get(integration.name))

    async def integration_summaries(self) -> list[dict[str, Any]]:
        """Every integration's summary. Callers asking while one reading of the store is
        under way share it, so a crowd of dashboards costs the store one reading at a time
        and never queues health checks or each other behind hundreds of them."""
        async def read() -> list[dict[str, Any]]:
            queue = await self.queue.view()
            return [await self.integration_summary(i, queue) for i in self.config.integrations]

        return await self._summaries.run("all", read)

    async def integration_summary(self, integration: IntegrationConfig,
                                  queue: QueueView | None = None) -> dict[str, Any]:
        """``queue`` is the queue as read for a list of summaries (read here if None)."""
        view = self.integration_view(integration, queue or await self.queue.view())
        last = await self.store.last_finished_run(integration.name)
        last_success = await self.store.last_succeeded_run(integration.name)
        states = await self.store.entity_states(integration.name)
        return {
            "name": view.name,
            "kind": view.kind,
            "enabled": view.enabled,
            "schedule": view.schedule,
            "timezone": view.timezone,
            "next_run": view.next_run.isoformat() if view.next_run else None,
            "state": ("running" if view.running else "queued" if view.waiting else "idle"),
            "queued": ({"run_id": view.waiting.run_id, "position": view.waiting_position,
                        "trigger": view.waiting.trigger} if view.waiting else None),
            "running": ({"run_id": view.running.run_id, "entity": view.running.current_entity,
                         "trigger": view.running.trigger,
                         "progress": view.running.progress.as_dict(),
                         "started_at": view.running.started_at.isoformat()
                         if view.running.started_at else None} if view.running else None),
            "last_run": _run_brief(last),
            "last_success": ({"id": last_success.id, "finished_at": last_success.finished_at}
                             if last_success else None),
            "entities": {e.value: _entity_brief(states.get(e.value)) for e in Entity},
            "records": {entity: dataclasses.asdict(counts) for entity, counts in
                        (await self.store.count_records(integration.name)).items()},
        }


def _run_brief(run: RunRecord | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {k: getattr(run, k) for k in ("id", "trigger", "requested_by", "queued_at",
                                         "started_at", "finished_at", "outcome", "error")}


def _entity_brief(state: EntitySyncState | None) -> dict[str, Any]:
    return {"last_success_at": state.last_success_at if state else None,
            "last_success_run": state.last_success_run if state else None}
