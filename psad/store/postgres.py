"""The PostgreSQL store: the store contract on a shared PostgreSQL database (asyncpg).

A pool serves every call; a write is one transaction on one pooled connection,
and writes to one integration's entity are serialised by a transaction-level
advisory lock (what the single writer connection does for SQLite), so
concurrent pages, sweeps and scope updates never race on the kept counts —
whichever process makes them. New rows of a page arrive by ``COPY``, changed
ones by one pipelined ``executemany``. A separate one-connection pool answers
only health checks, so they never wait behind a sync or the dashboard.

Several psad instances may share the database, and its ``runs`` table is then
their sync queue too (:class:`psad.store.contract.SharedQueueStore`, used by
:mod:`psad.table_queue`). A running run is leased to the instance that claimed
it (a run made by :meth:`PostgresStore.create_run`, to the one that made it),
which renews its leases (on the database's clock) while it lives; other
instances interrupt and queue again only runs whose lease has lapsed, never a
live instance's work.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from psad.config import SYNC_SETTINGS
from psad.model import Entity, Record
from psad.settings import default_of
from psad.store import (_SEARCHED, FINAL_OUTCOMES, MASS_DELETE_FLOOR, DatabaseUnavailable,
                        EntityResult, EntityState, PageCounts, SweepResult, _day, _kind, _like,
                        _prepare_rows, _run, parse_ts, safe_error, ts, utcnow)
from psad.store.contract import (COMPANY_CHILDREN, TRIGGER_PRIORITY, CompanyDetail,
                                 CompanyPage, Enqueued, EntityPage, EntityQuery,
                                 EntitySyncState, IntegrationBusy, RecordCounts, Row, RunDetail,
                                 RunEntityRecord, RunErrorRecord, RunRecord, TicketChoices)
from psad.store.pg_schema import MIGRATIONS, SCHEMA_VERSION
from psad.store.rows import columns, from_row
from psad.store.schema import COUNTS

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection: TypeAlias = PoolConnectionProxy[asyncpg.Record]
    """A pooled connection, as every query here runs on one."""

log = logging.getLogger("psad.store")

POOL_SIZE = 10
"""Connections per process: enough for the sync workers' entity writers and the readers."""
LEASE_SECONDS: float = default_of(SYNC_SETTINGS, "run_lease_seconds")
"""How long a run stays an instance's after its last renewal (renewed every third of it)."""
PING_TIMEOUT = 5.0
"""Seconds a health check waits for the database before calling it unreachable."""
LISTEN_RETRY = 1.0
"""Seconds between the queue listener's checks of its connection, and between reconnects."""
QUEUE_CHANNEL = "psad_queue"
"""The NOTIFY channel on which instances wake each other's idle workers."""
UNREACHABLE = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError)
"""What asyncpg raises when the database cannot be reached or refuses."""
_MIGRATION_LOCK = 0x70736164
"""The advisory lock key under which instances starting together migrate one at a time."""
_RUN_COLUMNS = ", ".join(f.name for f in dataclasses.fields(RunRecord))
"""The runs columns a :class:`RunRecord` holds (the table also keeps leases)."""
_RUN_FIELDS = frozenset({"trigger", "requested_by", "full_sync", "started_at", "finished_at",
                         "outcome", "current_entity", "error"})


def public_url(url: str) -> str:
    """``url`` without any password, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host))


class PostgresStore:
    """The store contract (:class:`psad.store.contract.StoreContract`) on PostgreSQL."""

    def __init__(self, url: str, pool: asyncpg.Pool, health: asyncpg.Pool, *,
                 password: str | None = None, lease_seconds: float = LEASE_SECONDS) -> None:
        self.url = public_url(url)
        self._connect = (url, password)
        """What the queue listener's own connection needs."""
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        """This process's name on the runs it leases."""
        self._pool = pool
        self._health = health
        self._columns = {e: columns(e) for e in Entity}
        self._lease_seconds = lease_seconds
        self._renewer = asyncio.create_task(self._renew_leases(), name="psad-run-leases")

    @classmethod
    async def open(cls, url: str, *, password: str | None = None,
                   pool_size: int = POOL_SIZE,
                   lease_seconds: float = LEASE_SECONDS) -> PostgresStore:
        """Connect and migrate; :class:`DatabaseUnavailable` names the database and why not."""
        try:
            pool = await asyncpg.create_pool(url, password=password, min_size=1,
                                             max_size=pool_size)
        except UNREACHABLE as err:
            raise DatabaseUnavailable(f"database {public_url(url)}: {err}") from err
        try:
            async with pool.acquire() as conn:
                await _migrate(conn)
            health = await asyncpg.create_pool(url, password=password, min_size=1, max_size=1)
        except (*UNREACHABLE, DatabaseUnavailable) as err:
            await pool.close()
            raise DatabaseUnavailable(f"database {public_url(url)}: {err}") from err
        return cls(url, pool, health, password=password, lease_seconds=lease_seconds)

    async def close(self) -> None:
        """Stop renewing leases (runs left unfinished are another instance's to resume)."""
        self._renewer.cancel()
        await asyncio.gather(self._renewer, return_exceptions=True)
        await self._health.close()
        await self._pool.close()

    async def _renew_leases(self) -> None:
        """Keep this instance's queued and running runs its own while it lives."""
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            try:
                await self._execute(
                    "UPDATE runs SET lease_until = now() + make_interval(secs => $2) "
                    "WHERE lease_owner = $1 AND outcome IN ('queued', 'running')",
                    self.instance, self._lease_seconds)
            except UNREACHABLE as err:
                log.warning("cannot renew this instance's run leases: %s", err)

    async def ping(self) -> bool:
        """Whether the database answers, on a connection nothing else queues on."""
        try:
            async with self._health.acquire(timeout=PING_TIMEOUT) as conn:
                return bool(await conn.fetchval("SELECT 1", timeout=PING_TIMEOUT) == 1)
        except UNREACHABLE:
            return False

    @asynccontextmanager
    async def _transaction(self, lock: tuple[str, Entity] | None = None
                           ) -> AsyncIterator[Connection]:
        """One transaction on a pooled connection; ``lock`` serialises writes to one
        integration's entity until it ends."""
        async with self._pool.acquire() as conn, conn.transaction():
            if lock is not None:
                await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                                   f"{lock[0]}/{lock[1].value}")
            yield conn

    async def _execute(self, sql: str, *args: Any) -> str:
        async with self._pool.acquire() as conn:
            status: str = await conn.execute(sql, *args)
            return status

    async def _fetch_all(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        async with self._pool.acquire() as conn:
            return [dict(row) for row in await conn.fetch(sql, *args)]

    async def _fetch_one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(sql, *args)
        return dict(row) if row is not None else None

    # -- entity data -------------------------------------------------------

    async def apply_page(self, integration: str, entity: Entity, records: Sequence[Record], *,
                         now: datetime, run_id: int | None = None,
                         out_of_scope: Iterable[str] = ()) -> PageCounts:
        """Upsert one page in one transaction; unchanged rows are not written."""
        latest: dict[str, Record] = {r.psa_id: r for r in records}
        if not latest:
            return PageCounts()
        excluded = set(out_of_scope)
        table = entity.value
        cols = self._columns[entity]
        stamp = ts(now)
        rows, digests = await asyncio.to_thread(_prepare_text_rows, latest)
        inserts: list[tuple[object, ...]] = []
        updates: list[tuple[object, ...]] = []
        counts = [0, 0, 0]
        async with self._transaction((integration, entity)) as db:
            existing = {row[0]: (row[1], row[2], bool(row[3])) for row in await db.fetch(
                f"SELECT psa_id, content_hash, deleted_at IS NOT NULL, out_of_scope FROM {table} "
                "WHERE integration = $1 AND psa_id = ANY($2::text[])", integration, list(latest))}
            for psa_id, row in rows.items():
                scope = int(psa_id in excluded)
                old = existing.get(psa_id)
                if old is None:
                    inserts.append((integration, psa_id, digests[psa_id], scope, stamp, stamp,
                                    stamp, *row))
                    counts[_kind(False, bool(scope))] += 1
                elif old != (digests[psa_id], False, bool(scope)):
                    updates.append((digests[psa_id], scope, stamp, stamp, *row, integration,
                                    psa_id))
                    counts[_kind(old[1], old[2])] -= 1
                    counts[_kind(False, bool(scope))] += 1
            if inserts:
                await db.copy_records_to_table(
                    table, records=inserts,
                    columns=("integration", "psa_id", "content_hash", "out_of_scope",
                             "first_seen", "last_seen", "updated_at", *cols))
            if updates:
                sets = ", ".join(f'"{c}" = ${n}' for n, c in enumerate(cols, start=5))
                key = len(cols) + 5
                await db.executemany(
                    f"UPDATE {table} SET content_hash = $1, out_of_scope = $2, last_seen = $3, "
                    f"updated_at = $4, deleted_at = NULL, {sets} "
                    f"WHERE integration = ${key} AND psa_id = ${key + 1}", updates)
            await _add_counts(db, integration, table, counts)
            if run_id is not None:
                written = {row[1] for row in inserts} | {row[-1] for row in updates}
                await _insert_seen(db, run_id, table,
                                   [psa_id for psa_id in latest if psa_id not in written])
        return PageCounts(fetched=len(records), created=len(inserts), updated=len(updates),
                          unchanged=len(latest) - len(inserts) - len(updates))

    async def remember_seen(self, run_id: int, entity: Entity, ids: Sequence[str]) -> None:
        """Note upstream ids from an id listing, for the sweep that follows."""
        if ids:
            async with self._pool.acquire() as conn:
                await _insert_seen(conn, run_id, entity.value, list(ids))

    async def sweep(self, integration: str, entity: Entity, run_id: int, *, now: datetime,
                    written_since: datetime, max_share: float,
                    guard_since: datetime | None = None) -> SweepResult:
        """Soft-delete live rows the run did not see upstream, unless that is too many
        (measured as :meth:`psad.store.Store.sweep` does).

        A run that has ended meanwhile sweeps nothing: another instance took it over
        when this one's lease lapsed (and dropped what it had seen), so only the
        run that took over may delete.
        """
        table = entity.value
        missing = ("integration = $1 AND deleted_at IS NULL AND last_seen < $2 AND NOT EXISTS "
                   f"(SELECT 1 FROM seen s WHERE s.run_id = $3 AND s.entity = $4 "
                   f"AND s.psa_id = {table}.psa_id)")
        args = (integration, ts(written_since), run_id, table)
        async with self._transaction((integration, entity)) as db:
            live = await db.fetchval(
                f"SELECT count(*) FROM {table} WHERE integration = $1 AND deleted_at IS NULL",
                integration)
            if await db.fetchval("SELECT outcome FROM runs WHERE id = $1 FOR SHARE",
                                 run_id) not in ("queued", "running", None):
                log.warning("integration=%s run=%d ended elsewhere; %s not swept", integration,
                            run_id, table)
                return SweepResult(deleted=0, refused=False, live=live, missing=0,
                                   high_water=live)
            missing_live, missing_scoped = await db.fetchrow(
                "SELECT count(*) FILTER (WHERE out_of_scope = 0), "
                f"count(*) FILTER (WHERE out_of_scope = 1) FROM {table} WHERE {missing}",
                *args) or (0, 0)
            missing_count = missing_live + missing_scoped
            await db.execute(
                "INSERT INTO entity_high_water (integration, entity, day, live) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (integration, entity, day) "
                "DO UPDATE SET live = greatest(entity_high_water.live, excluded.live)",
                integration, table, _day(now), live)
            high = live
            if guard_since is not None:
                high = max(live, await db.fetchval(
                    "SELECT max(live) FROM entity_high_water "
                    "WHERE integration = $1 AND entity = $2 AND day >= $3",
                    integration, table, _day(guard_since)) or 0)
            gone = high - (live - missing_count)
            refused = high >= MASS_DELETE_FLOOR and missing_count > 0 and gone > max_share * high
            deleted = 0
            if missing_count and not refused:
                await db.execute(f"UPDATE {table} SET deleted_at = $5 WHERE {missing}",
                                 *args, ts(now))
                await _add_counts(db, integration, table,
                                  [-missing_live, missing_count, -missing_scoped])
                deleted = missing_count
        return SweepResult(deleted=deleted, refused=refused, live=live, missing=missing_count,
                           high_water=high)

    async def live_count(self, integration: str, entity: Entity) -> int:
        """Stored rows of ``entity`` not deleted (in scope or not: both are upstream)."""
        async with self._pool.acquire() as conn:
            return int(await conn.fetchval(
                f"SELECT count(*) FROM {entity.value} WHERE integration = $1 "
                "AND deleted_at IS NULL", integration))

    async def forget_seen(self, run_id: int) -> None:
        await self._execute("DELETE FROM seen WHERE run_id = $1", run_id)

    async def apply_company_scope(self, integration: str, entity: Entity) -> int:
        """Mark a company child out of scope exactly when its company is; returns rows changed."""
        table = entity.value
        async with self._transaction((integration, entity)) as db:
            status = await db.execute(
                f"""UPDATE {table} AS t SET out_of_scope = s.new_scope FROM (
                        SELECT x.psa_id AS id, COALESCE(c.out_of_scope, 0) AS new_scope
                        FROM {table} x LEFT JOIN companies c
                          ON c.integration = x.integration AND c.psa_id = x.company_psa_id
                        WHERE x.integration = $1) AS s
                    WHERE t.integration = $1 AND t.psa_id = s.id
                      AND t.out_of_scope <> s.new_scope""", integration)
            changed = _rowcount(status)
            if changed:
                await db.execute(
                    "INSERT INTO entity_counts (integration, entity, live, deleted, out_of_scope) "
                    f"SELECT $1, $2, {COUNTS} FROM {table} WHERE integration = $1 "
                    "ON CONFLICT (integration, entity) DO UPDATE SET live = excluded.live, "
                    "deleted = excluded.deleted, out_of_scope = excluded.out_of_scope",
                    integration, table)
        return changed

    # -- sync state ----------------------------------------------------------

    async def entity_state(self, integration: str, entity: Entity) -> EntityState:
        row = await self._fetch_one(
            "SELECT cursor, last_success_at, last_full_sweep_at FROM entity_state "
            "WHERE integration = $1 AND entity = $2", integration, entity.value)
        if row is None:
            return EntityState(None, None, None)
        return EntityState(parse_ts(row["cursor"]), parse_ts(row["last_success_at"]),
                           parse_ts(row["last_full_sweep_at"]))

    async def entity_succeeded(self, integration: str, entity: Entity, run_id: int, *,
                               cursor: datetime, at: datetime, swept: bool) -> None:
        await self._execute(
            """INSERT INTO entity_state (integration, entity, cursor, last_success_at,
                   last_success_run, last_full_sweep_at) VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (integration, entity) DO UPDATE SET cursor = excluded.cursor,
                   last_success_at = excluded.last_success_at,
                   last_success_run = excluded.last_success_run,
                   last_full_sweep_at = COALESCE(excluded.last_full_sweep_at,
                                                 entity_state.last_full_sweep_at)""",
            integration, entity.value, ts(cursor), ts(at), run_id, ts(at) if swept else None)

    # -- sync log ------------------------------------------------------------

    async def create_run(self, integration: str, trigger: str, requested_by: str, *,
                         full: bool, queued_at: datetime,
                         scheduled_for: datetime | None = None) -> int:
        async with self._pool.acquire() as conn:
            run_id: int = await conn.fetchval(
                "INSERT INTO runs (integration, trigger, requested_by, full_sync, queued_at, "
                "scheduled_for, lease_owner, lease_until) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                "now() + make_interval(secs => $8)) RETURNING id",
                integration, trigger, requested_by, int(full), ts(queued_at),
                ts(scheduled_for) if scheduled_for else None, self.instance,
                self._lease_seconds)
        return run_id

    async def update_run(self, run_id: int, **fields: Any) -> None:
        if not fields or not set(fields) <= _RUN_FIELDS:
            raise ValueError(f"cannot update run fields {sorted(set(fields) - _RUN_FIELDS)}")
        if fields.get("error") is not None:
            fields["error"] = safe_error(fields["error"])
        values = [ts(v) if isinstance(v, datetime) else int(v) if isinstance(v, bool) else v
                  for v in fields.values()]
        sets = ", ".join(f"{k} = ${n}" for n, k in enumerate(fields, start=2))
        # a run that has ended keeps its outcome: the instance that lost it (its lease
        # lapsed and another took it over) must not call it succeeded afterwards
        still = " AND outcome IN ('queued', 'running')" if "outcome" in fields else ""
        await self._execute(f"UPDATE runs SET {sets} WHERE id = $1{still}", run_id, *values)

    async def save_entity_result(self, run_id: int, result: EntityResult) -> None:
        await self._execute(
            """INSERT INTO run_entities (run_id, entity, mode, started_at, finished_at, complete,
                   fetched, created, updated, unchanged, deleted, rejected, requests, note)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
               ON CONFLICT (run_id, entity) DO UPDATE SET finished_at = excluded.finished_at,
                   complete = excluded.complete, fetched = excluded.fetched,
                   created = excluded.created, updated = excluded.updated,
                   unchanged = excluded.unchanged, deleted = excluded.deleted,
                   rejected = excluded.rejected, requests = excluded.requests,
                   note = excluded.note""",
            run_id, result.entity.value, result.mode, ts(result.started_at),
            ts(result.finished_at) if result.finished_at else None, int(result.complete),
            result.fetched, result.created, result.updated, result.unchanged, result.deleted,
            result.rejected, result.requests, result.note)

    async def add_run_errors(self, run_id: int,
                             errors: Sequence[tuple[str | None, str | None, str]], *,
                             at: datetime) -> None:
        """Record errors as (entity, psa_id, message) triples, in order."""
        if errors:
            async with self._pool.acquire() as conn:
                await conn.executemany(
                    "INSERT INTO run_errors (run_id, entity, psa_id, message, at) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    [(run_id, e, p, safe_error(m), ts(at)) for e, p, m in errors])

    async def interrupt_unfinished_runs(self, *, at: datetime) -> list[RunRecord]:
        """Mark runs a dead process left queued or running as interrupted; returns them
        as they were. Dead: this instance's own, or leased by one whose lease lapsed.
        Queued runs no instance holds are the shared queue's (:meth:`enqueue`): they stay."""
        old_columns = ", ".join(f"old.{c}" for c in _RUN_COLUMNS.split(", "))
        rows = await self._fetch_all(
            f"WITH old AS (SELECT {_RUN_COLUMNS} FROM runs "
            "WHERE outcome IN ('queued', 'running') AND (lease_owner = $2 "
            "OR lease_until < now() OR (lease_until IS NULL AND outcome = 'running')) "
            "FOR UPDATE) "
            "UPDATE runs SET outcome = 'interrupted', finished_at = $1, "
            "error = COALESCE(runs.error, 'psad stopped before this run finished') "
            f"FROM old WHERE runs.id = old.id RETURNING {old_columns}", ts(at), self.instance)
        # what a dead instance noted for its runs' sweeps (SQLite's vanish with the process)
        await self._execute("DELETE FROM seen WHERE run_id = ANY($1::bigint[])",
                            [row["id"] for row in rows])
        return sorted((_run(row) for row in rows), key=lambda run: run.id)

    async def close_run(self, run_id: int, *, outcome: str, error: str, at: datetime) -> bool:
        """End a run that is still queued or running; False if it had already ended."""
        if outcome not in FINAL_OUTCOMES:
            raise ValueError(f"{outcome!r} is not a final outcome")
        status = await self._execute(
            "UPDATE runs SET outcome = $1, error = $2, finished_at = $3, current_entity = NULL "
            "WHERE id = $4 AND outcome IN ('queued', 'running')",
            outcome, safe_error(error), ts(at), run_id)
        return _rowcount(status) > 0

    # -- the shared queue (:class:`psad.store.contract.SharedQueueStore`) ----------

    async def enqueue(self, integration: str, trigger: str, requested_by: str, *, full: bool,
                      queued_at: datetime, scheduled_for: datetime | None = None) -> Enqueued:
        """Queue a run or join the one there (see :class:`SharedQueueStore`)."""
        async with self._pool.acquire() as conn, conn.transaction():
            return await _enqueue(conn, integration, trigger, requested_by, full=full,
                                  queued_at=queued_at, scheduled_for=scheduled_for)

    async def claim_next(self, *, at: datetime) -> RunRecord | None:
        """Start the next runnable queued run on this instance.

        Locked rows are skipped, so instances claiming together never wait on each
        other or take one run twice; a run waits while its integration runs
        anywhere. An integration has one queued run at a time (:meth:`enqueue`
        holds its lock), and a follow-up is queued only once the run before it
        shows as running, so two runs of one integration never start together.
        """
        row = await self._fetch_one(
            "UPDATE runs SET outcome = 'running', started_at = $1, lease_owner = $2, "
            "lease_until = now() + make_interval(secs => $3) WHERE id = ("
            "SELECT id FROM runs r WHERE outcome = 'queued' AND NOT EXISTS ("
            "SELECT 1 FROM runs x WHERE x.integration = r.integration "
            "AND x.outcome = 'running') "
            f"ORDER BY {_priority('r')}, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
            f"RETURNING {_RUN_COLUMNS}", ts(at), self.instance, self._lease_seconds)
        return _run(row) if row else None

    async def start_now(self, integration: str, trigger: str, requested_by: str, *,
                        full: bool, at: datetime) -> int:
        """Queue a run as :meth:`enqueue` does (joining the integration's queued one) and
        start it here at once, unless the integration runs anywhere (see
        :class:`SharedQueueStore`).

        :meth:`enqueue` locks the queued run, so a worker claiming it at the same
        moment either has it (and this then sees it running) or skips it: two runs
        of one integration never start together.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            queued = await _enqueue(conn, integration, trigger, requested_by, full=full,
                                    queued_at=at)
            running = await conn.fetchrow(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE integration = $1 "
                "AND outcome = 'running' ORDER BY id LIMIT 1", integration)
            if running is not None:
                raise IntegrationBusy(_run(dict(running)))
            await conn.execute(
                "UPDATE runs SET outcome = 'running', started_at = $2, lease_owner = $3, "
                "lease_until = now() + make_interval(secs => $4) WHERE id = $1",
                queued.run_id, ts(at), self.instance, self._lease_seconds)
        return queued.run_id

    async def queue_runs(self) -> list[RunRecord]:
        rows = await self._fetch_all(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE outcome IN ('queued', 'running') "
            f"ORDER BY outcome = 'running', {_priority('runs')}, id")
        return [_run(row) for row in rows]

    async def cancel_queued(self, integration: str, reason: str, *, at: datetime) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            await _lock_queue(conn, integration)
            status = await conn.execute(
                "UPDATE runs SET outcome = 'cancelled', error = $2, finished_at = $3 "
                "WHERE integration = $1 AND outcome = 'queued'",
                integration, safe_error(reason), ts(at))
        return _rowcount(status) > 0

    async def requeue_lapsed_runs(self, *, at: datetime) -> list[RunRecord]:
        """Interrupt the runs of instances that stopped renewing their leases (killed,
        cut off) and queue each again, in one transaction: no run is lost between."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"SELECT {_RUN_COLUMNS}, lease_owner FROM runs WHERE outcome = 'running' "
                "AND lease_owner IS DISTINCT FROM $1 AND lease_until < now() "
                "ORDER BY id FOR UPDATE SKIP LOCKED", self.instance)
            for row in rows:
                await conn.execute(
                    "UPDATE runs SET outcome = 'interrupted', finished_at = $2, "
                    "current_entity = NULL, error = $3 WHERE id = $1", row["id"], ts(at),
                    f"instance {row['lease_owner']} stopped renewing this run's lease "
                    "(killed or cut off); it runs again")
                await conn.execute("DELETE FROM seen WHERE run_id = $1", row["id"])
                await _enqueue(conn, row["integration"], "startup",
                               f"resume of run {row['id']}", full=bool(row["full_sync"]),
                               queued_at=at)
        return [_run({k: v for k, v in row.items() if k != "lease_owner"}) for row in rows]

    async def queue_changed(self) -> None:
        await self._execute("SELECT pg_notify($1, '')", QUEUE_CHANNEL)

    async def listen_queue(self, wake: Callable[[], None]) -> None:
        """Hold a connection of its own listening on the queue's channel (a pooled one
        would be handed to other work between notifications)."""
        dsn, password = self._connect
        while True:
            try:
                conn = await asyncpg.connect(dsn, password=password, timeout=PING_TIMEOUT)
            except UNREACHABLE as err:
                log.warning("queue listener cannot connect (%s); trying again", err)
                await asyncio.sleep(LISTEN_RETRY)
                continue
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn: lost.set())
            try:
                await conn.add_listener(QUEUE_CHANNEL, lambda *_args: wake())
                wake()  # whatever was queued while nobody listened
                while not conn.is_closed():
                    try:
                        await asyncio.wait_for(lost.wait(), LISTEN_RETRY)
                    except asyncio.TimeoutError:
                        pass
                log.warning("queue listener lost its connection; reconnecting")
            except UNREACHABLE as err:
                log.warning("queue listener failed (%s); reconnecting", err)
            finally:
                conn.terminate()

    async def get_run(self, run_id: int) -> RunDetail | None:
        run = await self._fetch_one(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = $1", run_id)
        if run is None:
            return None
        entities = await self._fetch_all(
            "SELECT entity, mode, started_at, finished_at, complete, fetched, created, updated, "
            "unchanged, deleted, rejected, requests, note FROM run_entities WHERE run_id = $1 "
            "ORDER BY started_at", run_id)
        errors = await self._fetch_all(
            "SELECT entity, psa_id, message, at FROM run_errors WHERE run_id = $1 ORDER BY id",
            run_id)
        return RunDetail(
            run=_run(run),
            entities=tuple(RunEntityRecord(**{**e, "complete": bool(e["complete"])})
                           for e in entities),
            errors=tuple(RunErrorRecord(**e) for e in errors))

    async def list_runs(self, *, integration: str | None = None, outcome: str | None = None,
                        before: int | None = None, limit: int = 50) -> list[RunRecord]:
        where: list[str] = ["TRUE"]
        args: list[object] = []
        for sql, value in (("integration = ${}", integration), ("outcome = ${}", outcome),
                           ("id < ${}", before)):
            if value:
                args.append(value)
                where.append(sql.format(len(args)))
        runs = await self._fetch_all(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE {' AND '.join(where)} ORDER BY id DESC "
            f"LIMIT ${len(args) + 1}", *args, limit)
        return [_run(run) for run in runs]

    async def latest_interrupted_runs(self) -> list[RunRecord]:
        rows = await self._fetch_all(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE id IN (SELECT max(id) FROM runs "
            "GROUP BY integration) AND outcome = 'interrupted' ORDER BY id")
        return [_run(row) for row in rows]

    async def last_finished_run(self, integration: str) -> RunRecord | None:
        row = await self._fetch_one(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE integration = $1 "
            "AND outcome NOT IN ('queued', 'running') "
            "ORDER BY id DESC LIMIT 1", integration)
        return _run(row) if row else None

    async def last_succeeded_run(self, integration: str) -> RunRecord | None:
        row = await self._fetch_one(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE integration = $1 AND outcome = 'succeeded' "
            "ORDER BY id DESC LIMIT 1", integration)
        return _run(row) if row else None

    async def nightly_covered(self, integration: str, since: datetime) -> bool:
        row = await self._fetch_one(
            "SELECT id FROM runs WHERE integration = $1 AND trigger IN ('nightly', 'startup') "
            "AND queued_at >= $2 AND outcome <> 'cancelled' LIMIT 1", integration, ts(since))
        return row is not None

    async def run_count(self) -> int:
        async with self._pool.acquire() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM runs"))

    # -- reads for the dashboard and API ----------------------------------------

    async def _rows(self, integration: str, entity: Entity, *, where: str = "",
                    args: Sequence[Any] = (), order: str = "psa_id", limit: int | None = None,
                    offset: int = 0) -> list[Row]:
        """Entity rows; ``where``/``order`` are SQL written in this module only, with
        parameters numbered from $2 ($1 is the integration)."""
        if any(isinstance(arg, str) and "\x00" in arg for arg in args):
            return []  # PostgreSQL text never holds a NUL: nothing equals or contains one
        sql = f"SELECT * FROM {entity.value} WHERE integration = $1"
        if where:
            sql += f" AND ({where})"
        sql += f" ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        rows = await self._fetch_all(sql, integration, *args)
        return [from_row(entity, row) for row in rows]

    async def records(self, integration: str, entity: Entity, *,
                      include_deleted: bool = True) -> list[Row]:
        return await self._rows(integration, entity,
                                where="" if include_deleted else "deleted_at IS NULL")

    async def record(self, integration: str, entity: Entity, psa_id: str) -> Row | None:
        found = await self._rows(integration, entity, where="psa_id = $2", args=(psa_id,))
        return found[0] if found else None

    async def entity_page(self, integration: str, entity: Entity,
                          query: EntityQuery) -> EntityPage:
        where: list[str] = []
        args: list[object] = []

        def arg(value: object) -> str:
            args.append(value)
            return f"${len(args) + 1}"

        if not query.include_deleted:
            where.append("deleted_at IS NULL")
        if query.company is not None:
            if not entity.is_company_child:
                raise ValueError(f"{entity.value} do not belong to a company")
            where.append(f"company_psa_id = {arg(query.company)}")
        if query.text:
            pattern = arg(_like(query.text))
            where.append(" OR ".join(f"{f} ILIKE {pattern} ESCAPE '\\'"
                                     for f in _SEARCHED[entity]))
        if query.updated_since is not None:
            since = arg(ts(query.updated_since))
            where.append(f"updated_at >= {since} OR deleted_at >= {since}")
        if query.out_of_scope is not None:
            where.append(f"out_of_scope = {arg(int(query.out_of_scope))}")
        if query.after is not None:  # no id holds a NUL: after "a\0…" is after "a"
            where.append(f"psa_id > {arg(query.after.partition(chr(0))[0])}")
        rows = await self._rows(integration, entity,
                                where=" AND ".join(f"({w})" for w in where), args=args,
                                limit=query.limit + 1)
        return EntityPage(rows=tuple(rows[:query.limit]), has_more=len(rows) > query.limit)

    async def company_page(self, integration: str, *, text: str | None, limit: int,
                           offset: int) -> CompanyPage:
        if text and "\x00" in text:  # no name holds a NUL (PostgreSQL text cannot)
            return CompanyPage(companies=(), total=0, children={})
        where, args = ("name ILIKE $2 ESCAPE '\\'", (_like(text),)) if text else ("", ())
        rows = await self._rows(integration, Entity.COMPANY, where=where, args=args,
                                limit=limit, offset=offset, order=f"{_nocase('name')}, psa_id")
        total = await self._fetch_one(
            "SELECT count(*) AS n FROM companies WHERE integration = $1"
            + (f" AND {where}" if where else ""), integration, *args)
        ids = [row["psa_id"] for row in rows]
        children: dict[str, dict[str, int]] = {cid: {} for cid in ids}
        for entity in COMPANY_CHILDREN:
            for row in await self._fetch_all(
                    f"SELECT company_psa_id AS id, count(*) AS n FROM {entity.value} "
                    "WHERE integration = $1 AND deleted_at IS NULL "
                    "AND company_psa_id = ANY($2::text[]) GROUP BY company_psa_id",
                    integration, ids):
                children[row["id"]][entity.value] = row["n"]
        return CompanyPage(companies=tuple(rows), total=total["n"] if total else 0,
                           children=children)

    async def company_names(self, integration: str, psa_ids: Iterable[str]) -> dict[str, str]:
        rows = await self._fetch_all(
            "SELECT psa_id, name FROM companies WHERE integration = $1 "
            "AND psa_id = ANY($2::text[])", integration,
            sorted(i for i in psa_ids if "\x00" not in i))
        return {row["psa_id"]: row["name"] for row in rows}

    async def company_detail(self, integration: str, psa_id: str) -> CompanyDetail | None:
        company = await self.record(integration, Entity.COMPANY, psa_id)
        if company is None:
            return None
        orders = {Entity.SITE: f'"primary" DESC, {_nocase("name")}',
                  Entity.CONTACT: f"{_nocase('last_name')}, {_nocase('first_name')}",
                  Entity.ASSET: _nocase("name")}
        children = {entity: tuple(await self._rows(
            integration, entity, where="company_psa_id = $2", args=(psa_id,),
            order=f"deleted_at IS NOT NULL, {orders[entity]}, psa_id"))
            for entity in COMPANY_CHILDREN}
        return CompanyDetail(company=company, sites=children[Entity.SITE],
                             contacts=children[Entity.CONTACT], assets=children[Entity.ASSET])

    async def ticket_choices(self, integration: str) -> TicketChoices:
        async def live(entity: Entity, order: str, where: str = "deleted_at IS NULL"
                       ) -> tuple[Row, ...]:
            return tuple(await self._rows(integration, entity, where=where, order=order))

        by_name = f"{_nocase('name')}, psa_id"
        return TicketChoices(
            companies=await live(Entity.COMPANY, by_name,
                                 "deleted_at IS NULL AND out_of_scope = 0"),
            boards=await live(Entity.BOARD, by_name),
            statuses=await live(Entity.TICKET_STATUS, f"sort_order NULLS FIRST, {by_name}"),
            priorities=await live(Entity.PRIORITY, f"sort_order NULLS FIRST, {by_name}"))

    async def count_records(self, integration: str) -> dict[str, RecordCounts]:
        """Live, deleted and out-of-scope rows per entity, as the writes keep them."""
        rows = await self._fetch_all(
            "SELECT entity, live, deleted, out_of_scope FROM entity_counts "
            "WHERE integration = $1", integration)
        kept = {row.pop("entity"): RecordCounts(**row) for row in rows}
        return {e.value: kept.get(e.value, RecordCounts(live=0, deleted=0, out_of_scope=0))
                for e in Entity}

    async def entity_states(self, integration: str) -> dict[str, EntitySyncState]:
        rows = await self._fetch_all(
            "SELECT entity, cursor, last_success_at, last_success_run, last_full_sweep_at "
            "FROM entity_state WHERE integration = $1", integration)
        return {row["entity"]: EntitySyncState(**row) for row in rows}

    # -- dashboard sessions -------------------------------------------------

    async def revoke_session(self, session_id: str, expires_at: datetime) -> None:
        """Remember a logged-out session until ``expires_at``; forget expired ones."""
        async with self._transaction() as conn:
            await conn.execute("DELETE FROM revoked_sessions WHERE expires_at <= $1",
                               ts(utcnow()))
            await conn.execute(
                "INSERT INTO revoked_sessions (id, expires_at) VALUES ($1, $2) "
                "ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
                session_id, ts(expires_at))

    async def revoked_sessions(self, now: datetime) -> dict[str, datetime]:
        """Revoked session ids that have not expired by ``now``, with their expiry."""
        rows = await self._fetch_all("SELECT id, expires_at FROM revoked_sessions "
                                     "WHERE expires_at > $1", ts(now))
        return {row["id"]: datetime.fromisoformat(row["expires_at"]) for row in rows}

    # -- custom fields the PSA offers ------------------------------------------

    async def save_custom_fields(self, integration: str, entity: Entity,
                                 counts: Mapping[str, int], *, at: datetime) -> None:
        """What a complete fetch of ``entity`` found: field name → records carrying it."""
        async with self._transaction() as conn:
            await conn.execute("DELETE FROM custom_fields WHERE integration = $1 "
                               "AND entity = $2", integration, entity.value)
            await conn.executemany(
                "INSERT INTO custom_fields (integration, entity, name, records, seen_at) "
                "VALUES ($1, $2, $3, $4, $5)",
                [(integration, entity.value, name, n, ts(at)) for name, n in counts.items()])

    async def custom_fields(self, integration: str) -> dict[str, dict[str, int]]:
        """Entity → custom field → how many records carry it, as last discovered."""
        found: dict[str, dict[str, int]] = {}
        for row in await self._fetch_all(
                "SELECT entity, name, records FROM custom_fields WHERE integration = $1 "
                f"ORDER BY entity, {_nocase('name')}", integration):
            found.setdefault(row["entity"], {})[row["name"]] = row["records"]
        return found


def _nocase(column: str) -> str:
    """An ORDER BY term sorting ``column`` as SQLite's ``COLLATE NOCASE`` does."""
    return f'lower({column}) COLLATE "C"'


def _rowcount(status: str) -> int:
    """Rows a command changed, from its status tag (``UPDATE 3``)."""
    return int(status.rpartition(" ")[2])


def _priority(table: str) -> str:
    """A run's place class in the queue (:data:`TRIGGER_PRIORITY`), as SQL on ``table``."""
    cases = " ".join(f"WHEN '{trigger}' THEN {rank}" for trigger, rank in TRIGGER_PRIORITY.items())
    return f"(CASE {table}.trigger {cases} END)"


async def _lock_queue(conn: Connection, integration: str) -> None:
    """Serialise changes to one integration's queued run until the transaction ends (seed 1:
    apart from the entity write locks)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 1))", integration)


async def _enqueue(conn: Connection, integration: str, trigger: str, requested_by: str, *,
                   full: bool, queued_at: datetime,
                   scheduled_for: datetime | None = None) -> Enqueued:
    """:meth:`PostgresStore.enqueue` inside the caller's transaction."""
    await _lock_queue(conn, integration)
    if scheduled_for is not None:
        done = await conn.fetchval(
            "SELECT id FROM runs WHERE integration = $1 AND scheduled_for = $2 "
            "AND outcome <> 'cancelled' ORDER BY id LIMIT 1", integration, ts(scheduled_for))
        if done is not None:
            return Enqueued(done, await _position(conn, done), True)
    queued = await conn.fetchrow(
        "SELECT id, trigger, full_sync FROM runs WHERE integration = $1 "
        "AND outcome = 'queued' ORDER BY id LIMIT 1 FOR UPDATE", integration)
    if queued is not None:
        changes: dict[str, object] = {}
        if TRIGGER_PRIORITY[trigger] < TRIGGER_PRIORITY[queued["trigger"]]:
            changes.update(trigger=trigger, requested_by=requested_by)
        if full and not queued["full_sync"]:
            changes["full_sync"] = 1
        if changes:
            sets = ", ".join(f"{k} = ${n}" for n, k in enumerate(changes, start=2))
            await conn.execute(f"UPDATE runs SET {sets} WHERE id = $1", queued["id"],
                               *changes.values())
            await conn.execute("SELECT pg_notify($1, '')", QUEUE_CHANNEL)
        return Enqueued(queued["id"], await _position(conn, queued["id"]), True)
    run_id: int = await conn.fetchval(
        "INSERT INTO runs (integration, trigger, requested_by, full_sync, queued_at, "
        "scheduled_for) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        integration, trigger, requested_by, int(full), ts(queued_at),
        ts(scheduled_for) if scheduled_for else None)
    await conn.execute("SELECT pg_notify($1, '')", QUEUE_CHANNEL)
    return Enqueued(run_id, await _position(conn, run_id), False)


async def _position(conn: Connection, run_id: int) -> int:
    """The run's 1-based place among queued runs in start order; 0 if not queued."""
    position: int = await conn.fetchval(
        "SELECT count(q.id) FROM runs me JOIN runs q ON q.outcome = 'queued' "
        f"AND ({_priority('q')}, q.id) <= ({_priority('me')}, me.id) "
        "WHERE me.id = $1 AND me.outcome = 'queued'", run_id)
    return position


async def _insert_seen(conn: Connection, run_id: int, table: str,
                       ids: list[str]) -> None:
    if ids:
        await conn.execute(
            "INSERT INTO seen (run_id, entity, psa_id) SELECT $1, $2, unnest($3::text[]) "
            "ON CONFLICT DO NOTHING", run_id, table, ids)


async def _add_counts(conn: Connection, integration: str, table: str,
                      change: Sequence[int]) -> None:
    """Move an entity's kept counts by ``change`` (live, deleted, out of scope)."""
    if any(change):
        await conn.execute(
            "INSERT INTO entity_counts (integration, entity, live, deleted, out_of_scope) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (integration, entity) DO UPDATE SET "
            "live = entity_counts.live + excluded.live, "
            "deleted = entity_counts.deleted + excluded.deleted, "
            "out_of_scope = entity_counts.out_of_scope + excluded.out_of_scope",
            integration, table, *change)


async def _migrate(conn: Connection) -> None:
    """Apply the migrations this database lacks, one transaction each, one instance at a time."""
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = await conn.fetchval("SELECT max(version) FROM schema_version") or 0
        if version > SCHEMA_VERSION:
            raise DatabaseUnavailable(f"schema version {version} is newer than this psad "
                                      f"understands ({SCHEMA_VERSION}); upgrade psad")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            async with conn.transaction():
                await conn.execute(script)
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", number)
            log.info("database schema migrated to version %d", number)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)


def _prepare_text_rows(records: dict[str, Record]) -> tuple[dict[str, tuple[object, ...]],
                                                             dict[str, str]]:
    """Rows as SQLite's store prepares them, with each NUL in a text cell stored as U+FFFD:
    PostgreSQL text cannot hold a NUL, and a PSA sending one must not fail the page.
    The digests are of the rows as received, so such a record still reads as unchanged."""
    rows, digests = _prepare_rows(records)
    for psa_id, row in rows.items():
        if any(type(cell) is str and "\x00" in cell for cell in row):
            rows[psa_id] = tuple(cell.replace("\x00", "\ufffd") if type(cell) is str else cell
                                 for cell in row)
    return rows, digests
