"""One sync of one integration: the entities in order, page by page, into the store.

Rules it keeps:
- pages stream from the connector into the store as they arrive, one
  transaction each (or one for the pages that arrived while the last was
  being written), with the next pages fetched while this one is written;
- a malformed record is rejected alone, logged with its reason, and the run
  ends ``partial``;
- the deletion sweep runs only after a complete fetch and refuses to delete
  more than ``max_delete_share`` of an entity's live rows;
- an incremental fetch lists every id for the sweep only when the PSA's count
  differs from the stored live count, or on runs whose trigger is in
  ``sync.full_sweep_triggers`` (the nightly run by default);
- an entity's cursor moves only after a clean fetch of it, so a failed run
  never skips data;
- a stop request ends the run after its current page, marked ``interrupted``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from psad.config import IntegrationConfig, SyncConfig
from psad.connectors.base import Connector, Page
from psad.errors import PsaAuthError, PsaError, PsaUnavailable, SyncInterrupted
from psad.http import REQUEST_COUNTER
from psad.metrics import Metrics
from psad.model import SYNC_ORDER, Company, Entity
from psad.progress import EntityProgress, RunProgress, fetching
from psad.store import EntityResult, utcnow
from psad.store.contract import StoreContract

log = logging.getLogger("psad.engine")

MAX_ERRORS_PER_ENTITY = 1000
CUSTOM_FIELD_ENTITIES = (Entity.ASSET, Entity.CONTACT)
"""Entities whose custom fields a complete fetch records for the set-up page."""
PREFETCH_DEPTH = 2
"""Pages fetched ahead of the store; pages waiting together are written together."""
T = TypeVar("T")


@dataclass(slots=True)
class RunReport:
    run_id: int
    integration: str
    outcome: str = "running"
    error: str | None = None
    entities: list[EntityResult] = field(default_factory=list)


class FetchTurns:
    """A run's fetches begin in sync order, whichever lane gets to its entity first.

    Lanes take entities in order but look up each one's sync state before
    fetching, and those lookups can finish in any order. A connector may rely on
    the order (HaloPSA's sites take the primary flags its companies fetch of the
    same run notes; begun out of order, sites would read the client list again).
    """

    def __init__(self, order: Sequence[Entity]) -> None:
        self._begun = {entity: asyncio.Event() for entity in order}
        self._before = dict(zip(order[1:], order))

    async def wait(self, entity: Entity) -> None:
        """Until the fetch of the entity before ``entity`` has begun (or that entity ended)."""
        before = self._before.get(entity)
        if before is not None:
            await self._begun[before].wait()

    def begun(self, entity: Entity) -> None:
        self._begun[entity].set()


async def prefetch(source: AsyncIterator[T], depth: int = PREFETCH_DEPTH,
                   ) -> AsyncIterator[list[T]]:
    """Iterate ``source`` in a task with up to ``depth`` items fetched ahead.

    Each step hands on every item already waiting (at least one): a consumer
    that fell behind (the store writing pages more slowly than they arrive)
    catches up in one go instead of one item at a time.
    """
    queue: asyncio.Queue[tuple[bool, T | BaseException | None]] = asyncio.Queue(maxsize=depth)

    async def pump() -> None:
        try:
            async for item in source:
                await queue.put((True, item))
            await queue.put((False, None))
        except Exception as err:
            await queue.put((False, err))

    task = asyncio.create_task(pump())
    try:
        more = True
        while more:
            batch: list[T] = []
            more, item = await queue.get()
            while more:
                batch.append(item)  # type: ignore[arg-type]
                if queue.empty():
                    break
                more, item = queue.get_nowait()
            if batch:
                yield batch
        if isinstance(item, BaseException):
            raise item
    finally:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:
                pass


def failure_reason(err: PsaError) -> str:
    """An error without the request it came from, so entities failing alike group together."""
    text = str(err)
    request = f"{err.url}: "
    return text.split(request, 1)[1] if err.url and request in text else text


def joined(pages: Sequence[Page]) -> Page:
    """Pages that arrived together, as one page (one store transaction)."""
    if len(pages) == 1:
        return pages[0]
    return Page([r for p in pages for r in p.records], [r for p in pages for r in p.rejected],
                listing_changed=any(p.listing_changed for p in pages),
                present=[i for p in pages for i in p.present])


class SyncEngine:
    def __init__(self, store: StoreContract, sync: SyncConfig, metrics: Metrics | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.sync = sync
        self.metrics = metrics
        self.clock = clock

    async def run(self, run_id: int, connector: Connector, *, full: bool = False,
                  stop: asyncio.Event | None = None,
                  on_entity: Callable[[str | None], None] | None = None,
                  progress: RunProgress | None = None) -> RunReport:
        """Sync every entity of ``connector``'s integration under run ``run_id``.

        ``progress``, when given, is kept up to date page by page (live progress).

        Up to ``entity_concurrency`` entities are fetched at once, started in
        :data:`SYNC_ORDER`; the PSA client's concurrency cap bounds the requests.
        """
        integration = connector.integration
        report = RunReport(run_id, integration.name)
        started = time.monotonic()
        connector.stored = functools.partial(self._stored, integration.name)
        await self.store.update_run(run_id, outcome="running", started_at=self.clock())
        sweep_all = await self._full_sweep_due(run_id)
        log.info("integration=%s run=%d sync started (%s)", integration.name, run_id,
                 "full" if full else "incremental where possible")
        failed: dict[str, list[str]] = {}
        """Why fetches failed (without the request) → the entities that failed so."""
        results: dict[Entity, EntityResult] = {}
        pending = list(SYNC_ORDER)
        turns = FetchTurns(pending)
        active: list[str] = []
        halted = False
        interrupted = False
        live = progress if progress is not None else RunProgress()

        async def publish() -> None:
            current = ", ".join(active) or None
            if on_entity:
                on_entity(current)
            await self.store.update_run(run_id, current_entity=current)

        async def lane() -> None:
            """Take the next entity in order until none is left or the run must end."""
            nonlocal halted, interrupted
            while pending and not halted and not interrupted:
                if stop is not None and stop.is_set():
                    interrupted = True
                    return
                entity = pending.pop(0)
                active.append(entity.value)
                await publish()
                try:
                    results[entity] = await self._sync_entity(
                        run_id, connector, entity, full=full, sweep_all=sweep_all, stop=stop,
                        progress=live.start(entity.value), turns=turns)
                except SyncInterrupted:
                    interrupted = True
                except PsaError as err:
                    fatal = isinstance(err, (PsaAuthError, PsaUnavailable))
                    halted = halted or fatal
                    reason = failure_reason(err)
                    first = reason not in failed  # once at ERROR: a bad key fails every entity
                    failed.setdefault(reason, []).append(entity.value)
                    await self.store.add_run_errors(run_id, [(entity.value, None, str(err))],
                                                    at=self.clock())
                    log.log(logging.ERROR if first else logging.DEBUG,
                            "integration=%s run=%d entity=%s fetch failed%s: %s",
                            integration.name, run_id, entity.value,
                            ", run stops" if fatal else "", err)
                finally:
                    turns.begun(entity)  # also when it failed before its fetch began
                    active.remove(entity.value)

        try:
            lanes = max(1, min(self.sync.entity_concurrency, len(pending)))
            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(lanes):
                        group.create_task(lane())
            except BaseExceptionGroup as group:  # the other lanes are cancelled by now
                raise group.exceptions[0] from None
            if interrupted:
                raise SyncInterrupted()
            report.entities = [results[e] for e in SYNC_ORDER if e in results]
            companies = results.get(Entity.COMPANY)
            if companies is not None and companies.complete:
                for entity in SYNC_ORDER:
                    if entity.is_company_child:
                        await self.store.apply_company_scope(integration.name, entity)
            partial = any(r.rejected or r.note for r in report.entities)
            report.outcome = "failed" if failed else ("partial" if partial else "succeeded")
            report.error = "; ".join(
                f"{', '.join(entities)}: {reason}" if len(entities) == 1 else
                f"{len(entities)} entities ({', '.join(entities)}): {reason}"
                for reason, entities in failed.items()) or None
        except (SyncInterrupted, asyncio.CancelledError) as err:
            report.outcome = "interrupted"
            report.error = "psad stopped during this run; it resumes at the next start"
            log.warning("integration=%s run=%d interrupted", integration.name, run_id)
            await self._finish(report, started)
            if isinstance(err, asyncio.CancelledError):
                raise
            return report
        except Exception as err:
            report.outcome = "failed"
            report.error = f"internal error: {type(err).__name__}: {err}"
            log.exception("integration=%s run=%d failed unexpectedly", integration.name, run_id)
        await self._finish(report, started)
        return report

    async def _finish(self, report: RunReport, started: float) -> None:
        await self.store.forget_seen(report.run_id)
        await self.store.update_run(report.run_id, outcome=report.outcome,
                                    finished_at=self.clock(), current_entity=None,
                                    error=report.error)
        if self.metrics:
            self.metrics.run_duration.labels(report.integration).observe(
                time.monotonic() - started)
        log.info("integration=%s run=%d finished: %s%s", report.integration, report.run_id,
                 report.outcome, f" ({report.error})" if report.error else "")

    async def _sync_entity(self, run_id: int, connector: Connector, entity: Entity, *,
                           full: bool, sweep_all: bool, stop: asyncio.Event | None,
                           progress: EntityProgress, turns: FetchTurns) -> EntityResult:
        integration = connector.integration
        state = await self.store.entity_state(integration.name, entity)
        since: datetime | None = None
        if not full and entity in connector.incremental and state.cursor is not None:
            since = state.cursor - timedelta(seconds=self.sync.cursor_overlap_seconds)
        fetch_started = self.clock()
        result = EntityResult(entity, "incremental" if since else "full", fetch_started)
        requests = [0]
        counting = REQUEST_COUNTER.set(requests)
        errors: list[tuple[str | None, str | None, str]] = []
        listing_changed = False
        try:
            await turns.wait(entity)
            fetched = connector.fetch(entity, since=since)
            turns.begun(entity)
            with fetching(progress):
                async for pages in prefetch(fetched):
                    progress.pages += len(pages)
                    progress.fetched += sum(len(p.records) + len(p.rejected) for p in pages)
                    page = joined(pages)
                    await self._apply(run_id, integration, entity, page, result, errors,
                                      track_seen=since is None)
                    progress.written = result.created + result.updated + result.unchanged
                    progress.rejected = result.rejected
                    listing_changed = listing_changed or page.listing_changed
                    if stop is not None and stop.is_set():
                        raise SyncInterrupted()
            proven = (since is not None and not sweep_all
                      and await self._nothing_deleted(connector, entity))
            if since is not None and not proven:
                async for id_lists in prefetch(connector.list_ids(entity)):
                    await self.store.remember_seen(run_id, entity,
                                                   [i for ids in id_lists for i in ids])
                    if stop is not None and stop.is_set():
                        raise SyncInterrupted()
            if listing_changed and since is None:
                result.note = ("deletion sweep skipped: the list kept changing while it was "
                               "read, so a record may have been missed; the next run sweeps")
            elif not proven:
                sweep = await self.store.sweep(integration.name, entity, run_id,
                                               now=self.clock(), written_since=fetch_started,
                                               max_share=self.sync.max_delete_share,
                                               guard_since=self.clock() - timedelta(
                                                   days=self.sync.delete_guard_days))
                result.deleted = sweep.deleted
                if sweep.refused:
                    gone = sweep.high_water - sweep.live + sweep.missing
                    result.note = (f"deletion sweep refused: {sweep.missing} of {sweep.live} "
                                   f"live records are gone upstream ({gone} of the "
                                   f"{sweep.high_water} seen in the last "
                                   f"{self.sync.delete_guard_days} days), more than the "
                                   f"{self.sync.max_delete_share:.0%} limit; nothing was "
                                   "deleted")
            result.complete = progress.done = True
            if since is None and entity in CUSTOM_FIELD_ENTITIES:
                await self.store.save_custom_fields(integration.name, entity,
                                                    progress.custom_fields, at=self.clock())
            if result.note:
                errors.append((entity.value, None, result.note))
                log.warning("integration=%s run=%d entity=%s %s", integration.name, run_id,
                            entity.value, result.note)
        finally:
            result.finished_at = self.clock()
            result.requests = requests[0]
            REQUEST_COUNTER.reset(counting)
            await self.store.add_run_errors(run_id, errors[:MAX_ERRORS_PER_ENTITY],
                                            at=self.clock())
            if len(errors) > MAX_ERRORS_PER_ENTITY:
                await self.store.add_run_errors(
                    run_id, [(entity.value, None, f"{len(errors) - MAX_ERRORS_PER_ENTITY} "
                              "more errors not listed")], at=self.clock())
            await self.store.save_entity_result(run_id, result)
            self._count(integration.name, result)
        if result.complete and not result.rejected and not result.note:
            await self.store.entity_succeeded(integration.name, entity, run_id,
                                              cursor=fetch_started, at=self.clock(),
                                              swept=not proven)
            if self.metrics:
                self.metrics.last_success.labels(integration.name, entity.value).set(
                    self.clock().timestamp())
        log.info("integration=%s run=%d entity=%s %s fetched=%d created=%d updated=%d "
                 "unchanged=%d deleted=%d rejected=%d requests=%d", integration.name, run_id,
                 entity.value, result.mode, result.fetched, result.created, result.updated,
                 result.unchanged, result.deleted, result.rejected, result.requests)
        return result

    async def _stored(self, integration: str, entity: Entity) -> dict[str, dict[str, Any]]:
        return {r["psa_id"]: r for r in await self.store.records(integration, entity,
                                                                 include_deleted=False)}

    async def _full_sweep_due(self, run_id: int) -> bool:
        """Whether this run lists every id of its incremental entities regardless of
        counts: runs with a trigger in ``sync.full_sweep_triggers`` (the nightly run by
        default) do, so correctness never rests on the count shortcut alone."""
        detail = await self.store.get_run(run_id)
        return detail is None or detail.run.trigger in self.sync.full_sweep_triggers

    async def _nothing_deleted(self, connector: Connector, entity: Entity) -> bool:
        """True when the PSA's count of ``entity`` equals the stored live count after
        this run's changes were applied: every stored record is still upstream unless
        a deletion and an addition psad has not seen cancel out (the scheduled full
        sweep catches those). A count psad cannot get proves nothing."""
        upstream = await connector.count(entity)
        if upstream is None:
            return False
        stored = await self.store.live_count(connector.integration.name, entity)
        log.info("integration=%s entity=%s upstream count %d, stored %d: %s",
                 connector.integration.name, entity.value, upstream, stored,
                 "nothing was deleted, ids not listed" if upstream == stored
                 else "listing ids for the deletion sweep")
        return upstream == stored

    async def _apply(self, run_id: int, integration: IntegrationConfig, entity: Entity,
                     page: Page, result: EntityResult,
                     errors: list[tuple[str | None, str | None, str]], *,
                     track_seen: bool) -> None:
        out_of_scope: list[str] = []
        if entity is Entity.COMPANY:
            out_of_scope = [r.psa_id for r in page.records if isinstance(r, Company)
                            and not integration.company_filter.includes(r.status, r.types)]
        counts = await self.store.apply_page(
            integration.name, entity, page.records, now=self.clock(),
            run_id=run_id if track_seen else None, out_of_scope=out_of_scope)
        result.add(counts)
        if page.present:
            result.fetched += len(page.present)
            result.unchanged += len(page.present)
            if track_seen:
                await self.store.remember_seen(run_id, entity, page.present)
        if page.rejected:
            result.fetched += len(page.rejected)
            result.rejected += len(page.rejected)
            if track_seen:
                await self.store.remember_seen(
                    run_id, entity, [r.psa_id for r in page.rejected if r.psa_id])
            for rejected in page.rejected:
                errors.append((entity.value, rejected.psa_id, f"rejected: {rejected.reason}"))
                log.warning("integration=%s run=%d entity=%s id=%s rejected: %s",
                            integration.name, run_id, entity.value, rejected.psa_id,
                            rejected.reason)

    def _count(self, integration: str, result: EntityResult) -> None:
        if self.metrics is None:
            return
        for operation in ("created", "updated", "unchanged", "deleted", "rejected"):
            value = getattr(result, operation)
            if value:
                self.metrics.records.labels(integration, result.entity.value, operation).inc(value)
