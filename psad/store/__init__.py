"""The SQLite store: entity tables, the sync log and per-entity sync state.

One writer connection serialises every write (it is the write lock: psad's
own writes never meet SQLITE_BUSY), one transaction per page. A second
connection serves reads, so the dashboard never waits behind a big sync (WAL),
and a third answers only health checks, so they never wait behind the dashboard.
Per-entity row counts are kept in ``entity_counts`` by the same transactions
that change the rows, so showing them costs no table scan.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any

import aiosqlite

from psad.logs import redact
from psad.model import Entity, Record
from psad.priority_slots import PrioritySlots
from psad.store.contract import (COMPANY_CHILDREN, CompanyDetail, CompanyPage, EntityPage,
                                 EntityQuery, EntitySyncState, RecordCounts, Row, RunDetail,
                                 RunEntityRecord, RunErrorRecord, RunRecord, TicketChoices)
from psad.store.rows import columns, content_hash, from_row, to_row
from psad.store.schema import COUNTS, MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger("psad.store")

OUTCOMES = ("queued", "running", "succeeded", "partial", "failed", "interrupted", "cancelled")
FINAL_OUTCOMES = ("succeeded", "partial", "failed", "interrupted", "cancelled")
MASS_DELETE_FLOOR = 10
"""Below this many live rows the mass-delete guard does not apply."""
MAX_ERROR_CHARS = 1000
"""An error kept in the sync log is cut here (upstream bodies can be anything)."""


def ts(moment: datetime) -> str:
    """Stored timestamps: UTC ISO-8601 with microseconds, so they sort as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _day(moment: datetime) -> str:
    """The UTC calendar day of ``moment``, as the high-water table keys it."""
    return moment.astimezone(UTC).date().isoformat()


def parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def utcnow() -> datetime:
    return datetime.now(UTC)


def safe_error(message: str) -> str:
    """What the sync log may keep of an error: no secret (nor an encoded form of one), and
    not an upstream body's worth of text. Everything persisted or shown passes here."""
    text = redact(message)
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + " …(cut)"


@dataclass(frozen=True, slots=True)
class PageCounts:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class SweepResult:
    deleted: int
    refused: bool
    live: int
    missing: int
    high_water: int = 0
    """The most live rows the entity had in the guard's window (at least ``live``)."""


@dataclass(frozen=True, slots=True)
class EntityState:
    cursor: datetime | None
    last_success_at: datetime | None
    last_full_sweep_at: datetime | None


@dataclass(slots=True)
class EntityResult:
    """One entity's share of a run, as the sync log keeps it."""

    entity: Entity
    mode: str
    started_at: datetime
    finished_at: datetime | None = None
    complete: bool = False
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    requests: int = 0
    note: str | None = None

    def add(self, counts: PageCounts) -> None:
        self.fetched += counts.fetched
        self.created += counts.created
        self.updated += counts.updated
        self.unchanged += counts.unchanged


class DatabaseUnavailable(Exception):
    """The database cannot be opened or migrated (the message says which file and why)."""


def create_private(path: Path) -> None:
    """Create ``path`` empty, readable by its owner only, whatever the umask.

    SQLite gives the ``-wal`` and ``-shm`` files the database file's mode, so
    creating the database this way keeps all three private (blocking).
    """
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def backup_before_migrate(path: Path) -> Path | None:
    """Copy an existing database aside before its schema changes (blocking)."""
    if not path.exists():
        return None
    with sqlite3.connect(path) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return None
        if version > 0:
            backup = path.with_name(f"{path.name}.v{version}.bak")
            create_private(backup)
            with sqlite3.connect(backup) as dest:
                conn.backup(dest)
            return backup
    return None


class WriteTurn(IntEnum):
    """Who goes first on the one writer connection.

    A person waits on the run log: a Force Sync's new run, its start, its end, a
    sign-out. The syncs' page-sized writes (pages, seen ids, sweeps) can wait for
    those; without this a Force Sync's run queued behind every page eight running
    syncs had waiting, and the POST took as long as all of them.
    """

    RUN_LOG = 0
    DATA = 1


class Store:
    def __init__(self, path: Path, writer: aiosqlite.Connection,
                 reader: aiosqlite.Connection, health: aiosqlite.Connection) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._health = health
        self._columns = {e: columns(e) for e in Entity}
        self._write_turns = PrioritySlots(1)

    @classmethod
    async def open(cls, path: Path) -> Store:
        """Open the database, creating and migrating it; :class:`DatabaseUnavailable` says why not."""
        try:
            return await cls._open(path)
        except (OSError, sqlite3.Error, DatabaseUnavailable) as err:
            raise DatabaseUnavailable(f"database {path}: {err}") from err

    @classmethod
    async def _open(cls, path: Path) -> Store:
        await asyncio.to_thread(_prepare_files, path)
        backup = await asyncio.to_thread(backup_before_migrate, path)
        if backup:
            log.info("copied %s to %s before migrating its schema", path, backup)
        writer = await aiosqlite.connect(path, isolation_level=None)
        try:
            await writer.execute("PRAGMA journal_mode=WAL")
            await writer.execute("PRAGMA synchronous=NORMAL")
            await writer.execute("PRAGMA foreign_keys=ON")
            await writer.execute("PRAGMA busy_timeout=10000")
            await _migrate(writer)
            await writer.execute(
                "CREATE TEMP TABLE seen (run_id INTEGER NOT NULL, entity TEXT NOT NULL, "
                "psa_id TEXT NOT NULL, PRIMARY KEY (run_id, entity, psa_id)) WITHOUT ROWID")
            reader = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True,
                                             isolation_level=None)
            health = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True,
                                             isolation_level=None)
        except BaseException:
            await writer.close()
            raise
        await reader.execute("PRAGMA busy_timeout=10000")
        reader.row_factory = aiosqlite.Row
        return cls(path, writer, reader, health)

    async def close(self) -> None:
        await self._health.close()
        await self._reader.close()
        await self._writer.close()

    @asynccontextmanager
    async def _transaction(self, turn: WriteTurn = WriteTurn.DATA
                           ) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time on the single writer connection.

        ``BEGIN`` sits inside the ``try``: a task cancelled while waiting for it
        leaves the statement queued on the connection's thread, and only the
        ``ROLLBACK`` queued after it keeps later writes out of an orphaned
        transaction.
        """
        async with self._write_turns.held(turn):
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
                yield self._writer
            except BaseException:
                await self._rollback()
                raise
            await self._writer.execute("COMMIT")

    async def _execute(self, sql: str, args: Sequence[Any] = (),
                       turn: WriteTurn = WriteTurn.RUN_LOG) -> aiosqlite.Cursor:
        async with self._write_turns.held(turn):
            return await self._writer.execute(sql, args)

    async def _executemany(self, sql: str, rows: Iterable[Sequence[Any]],
                           turn: WriteTurn = WriteTurn.DATA) -> None:
        async with self._write_turns.held(turn):
            await self._writer.executemany(sql, rows)

    async def ping(self) -> bool:
        """Whether the database answers, on a connection nothing else queues on."""
        try:
            async with self._health.execute("SELECT 1") as cur:
                return (await cur.fetchone()) is not None
        except sqlite3.Error:
            return False

    # -- entity data -------------------------------------------------------

    async def apply_page(self, integration: str, entity: Entity, records: Sequence[Record], *,
                         now: datetime, run_id: int | None = None,
                         out_of_scope: Iterable[str] = ()) -> PageCounts:
        """Upsert one page in one transaction; unchanged rows are not written.

        With ``run_id`` the page's unchanged ids are remembered for that run's
        deletion sweep (rows it writes carry ``last_seen`` = ``now``, which the
        sweep reads instead). ``out_of_scope`` names ids the company filter excludes.
        """
        latest: dict[str, Record] = {r.psa_id: r for r in records}
        if not latest:
            return PageCounts()
        excluded = set(out_of_scope)
        table = entity.value
        cols = self._columns[entity]
        stamp = ts(now)
        rows, digests = await asyncio.to_thread(_prepare_rows, latest)
        inserts: list[tuple[object, ...]] = []
        updates: list[tuple[object, ...]] = []
        counts = [0, 0, 0]
        async with self._transaction() as db:
            async with db.execute(
                f"SELECT psa_id, content_hash, deleted_at IS NOT NULL, out_of_scope FROM {table} "
                "WHERE integration = ? AND psa_id IN (SELECT value FROM json_each(?))",
                (integration, json.dumps(list(latest))),
            ) as cur:
                existing = {row[0]: (row[1], bool(row[2]), bool(row[3]))
                            for row in await cur.fetchall()}
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
                names = ", ".join(f'"{c}"' for c in cols)
                marks = ", ".join("?" * (7 + len(cols)))
                await db.executemany(
                    f"INSERT INTO {table} (integration, psa_id, content_hash, out_of_scope, "
                    f"first_seen, last_seen, updated_at, {names}) VALUES ({marks})", inserts)
            if updates:
                sets = ", ".join(f'"{c}" = ?' for c in cols)
                await db.executemany(
                    f"UPDATE {table} SET content_hash = ?, out_of_scope = ?, last_seen = ?, "
                    f"updated_at = ?, deleted_at = NULL, {sets} "
                    "WHERE integration = ? AND psa_id = ?", updates)
            await _add_counts(db, integration, table, counts)
            if run_id is not None:
                written = {row[1] for row in inserts} | {row[-1] for row in updates}
                await db.executemany(
                    "INSERT OR IGNORE INTO temp.seen (run_id, entity, psa_id) VALUES (?, ?, ?)",
                    [(run_id, table, psa_id) for psa_id in latest if psa_id not in written])
        return PageCounts(fetched=len(records), created=len(inserts), updated=len(updates),
                          unchanged=len(latest) - len(inserts) - len(updates))

    async def remember_seen(self, run_id: int, entity: Entity, ids: Sequence[str]) -> None:
        """Note upstream ids from an id listing, for the sweep that follows."""
        if not ids:
            return
        await self._executemany(
            "INSERT OR IGNORE INTO temp.seen (run_id, entity, psa_id) VALUES (?, ?, ?)",
            [(run_id, entity.value, psa_id) for psa_id in ids])

    async def sweep(self, integration: str, entity: Entity, run_id: int, *, now: datetime,
                    written_since: datetime, max_share: float,
                    guard_since: datetime | None = None) -> SweepResult:
        """Soft-delete live rows the run did not see upstream, unless that is too many.

        Too many is measured against the entity's highest live count since
        ``guard_since`` (a day's granularity), so deletions spread over several
        runs add up: 24 of 50 today and 13 more tomorrow is 74 %, not 48 % then 50 %.
        """
        table = entity.value
        missing = ("integration = ? AND deleted_at IS NULL AND last_seen < ? AND psa_id "
                   "NOT IN (SELECT psa_id FROM temp.seen WHERE run_id = ? AND entity = ?)")
        args = (integration, ts(written_since), run_id, table)
        async with self._transaction() as db:
            async with db.execute(
                f"SELECT count(*) FROM {table} WHERE integration = ? AND deleted_at IS NULL",
                (integration,)) as cur:
                live = (await cur.fetchone() or (0,))[0]
            async with db.execute(
                    "SELECT count(*) FILTER (WHERE out_of_scope = 0), "
                    f"count(*) FILTER (WHERE out_of_scope = 1) FROM {table} WHERE {missing}",
                    args) as cur:
                missing_live, missing_scoped = await cur.fetchone() or (0, 0)
            missing_count = missing_live + missing_scoped
            await db.execute(
                "INSERT INTO entity_high_water (integration, entity, day, live) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (integration, entity, day) "
                "DO UPDATE SET live = max(live, excluded.live)",
                (integration, table, _day(now), live))
            high = live
            if guard_since is not None:
                async with db.execute(
                    "SELECT max(live) FROM entity_high_water "
                    "WHERE integration = ? AND entity = ? AND day >= ?",
                    (integration, table, _day(guard_since))) as cur:
                    high = max(live, (await cur.fetchone() or (0,))[0] or 0)
            gone = high - (live - missing_count)
            refused = high >= MASS_DELETE_FLOOR and missing_count > 0 and gone > max_share * high
            deleted = 0
            if missing_count and not refused:
                await db.execute(f"UPDATE {table} SET deleted_at = ? WHERE {missing}",
                                 (ts(now), *args))
                await _add_counts(db, integration, table,
                                  [-missing_live, missing_count, -missing_scoped])
                deleted = missing_count
        return SweepResult(deleted=deleted, refused=refused, live=live, missing=missing_count,
                           high_water=high)

    async def live_count(self, integration: str, entity: Entity) -> int:
        """Stored rows of ``entity`` not deleted (in scope or not: both are upstream)."""
        async with self._writer.execute(
                f"SELECT count(*) FROM {entity.value} WHERE integration = ? "
                "AND deleted_at IS NULL", (integration,)) as cur:
            return int((await cur.fetchone() or (0,))[0])

    async def forget_seen(self, run_id: int) -> None:
        await self._execute("DELETE FROM temp.seen WHERE run_id = ?", (run_id,), WriteTurn.DATA)

    async def apply_company_scope(self, integration: str, entity: Entity) -> int:
        """Mark a company child out of scope exactly when its company is; returns rows changed."""
        table = entity.value
        async with self._transaction() as db:
            cur = await db.execute(
                f"""UPDATE {table} SET out_of_scope = new_scope FROM (
                        SELECT t.psa_id AS id, COALESCE(c.out_of_scope, 0) AS new_scope
                        FROM {table} t LEFT JOIN companies c
                          ON c.integration = t.integration AND c.psa_id = t.company_psa_id
                        WHERE t.integration = ?)
                    WHERE integration = ? AND psa_id = id AND out_of_scope != new_scope""",
                (integration, integration))
            if cur.rowcount:
                await db.execute(
                    "INSERT INTO entity_counts (integration, entity, live, deleted, out_of_scope) "
                    f"SELECT ?, ?, {COUNTS} FROM {table} WHERE integration = ? "
                    "ON CONFLICT (integration, entity) DO UPDATE SET live = excluded.live, "
                    "deleted = excluded.deleted, out_of_scope = excluded.out_of_scope",
                    (integration, table, integration))
        return cur.rowcount

    async def _rollback(self) -> None:
        try:
            await self._writer.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    # -- sync state ----------------------------------------------------------

    async def entity_state(self, integration: str, entity: Entity) -> EntityState:
        async with self._writer.execute(
            "SELECT cursor, last_success_at, last_full_sweep_at FROM entity_state "
            "WHERE integration = ? AND entity = ?", (integration, entity.value)) as cur:
            row = await cur.fetchone()
        if row is None:
            return EntityState(None, None, None)
        return EntityState(parse_ts(row[0]), parse_ts(row[1]), parse_ts(row[2]))

    async def entity_succeeded(self, integration: str, entity: Entity, run_id: int, *,
                               cursor: datetime, at: datetime, swept: bool) -> None:
        await self._execute(
            """INSERT INTO entity_state (integration, entity, cursor, last_success_at,
                   last_success_run, last_full_sweep_at) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (integration, entity) DO UPDATE SET cursor = excluded.cursor,
                   last_success_at = excluded.last_success_at,
                   last_success_run = excluded.last_success_run,
                   last_full_sweep_at = COALESCE(excluded.last_full_sweep_at, last_full_sweep_at)""",
            (integration, entity.value, ts(cursor), ts(at), run_id, ts(at) if swept else None))

    # -- sync log ------------------------------------------------------------

    async def create_run(self, integration: str, trigger: str, requested_by: str, *,
                         full: bool, queued_at: datetime,
                         scheduled_for: datetime | None = None) -> int:
        cur = await self._execute(
            "INSERT INTO runs (integration, trigger, requested_by, full_sync, queued_at, "
            "scheduled_for) VALUES (?, ?, ?, ?, ?, ?)",
            (integration, trigger, requested_by, int(full), ts(queued_at),
             ts(scheduled_for) if scheduled_for else None))
        assert cur.lastrowid is not None
        return cur.lastrowid

    async def update_run(self, run_id: int, **fields: Any) -> None:
        allowed = {"trigger", "requested_by", "full_sync", "started_at", "finished_at",
                   "outcome", "current_entity", "error"}
        if not fields or not set(fields) <= allowed:
            raise ValueError(f"cannot update run fields {sorted(set(fields) - allowed)}")
        if fields.get("error") is not None:
            fields["error"] = safe_error(fields["error"])
        values = [ts(v) if isinstance(v, datetime) else v for v in fields.values()]
        sets = ", ".join(f"{k} = ?" for k in fields)
        await self._execute(f"UPDATE runs SET {sets} WHERE id = ?", (*values, run_id))

    async def save_entity_result(self, run_id: int, result: EntityResult) -> None:
        await self._execute(
            """INSERT INTO run_entities (run_id, entity, mode, started_at, finished_at, complete,
                   fetched, created, updated, unchanged, deleted, rejected, requests, note)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (run_id, entity) DO UPDATE SET finished_at = excluded.finished_at,
                   complete = excluded.complete, fetched = excluded.fetched,
                   created = excluded.created, updated = excluded.updated,
                   unchanged = excluded.unchanged, deleted = excluded.deleted,
                   rejected = excluded.rejected, requests = excluded.requests,
                   note = excluded.note""",
            (run_id, result.entity.value, result.mode, ts(result.started_at),
             ts(result.finished_at) if result.finished_at else None, int(result.complete),
             result.fetched, result.created, result.updated, result.unchanged, result.deleted,
             result.rejected, result.requests, result.note))

    async def add_run_errors(self, run_id: int, errors: Sequence[tuple[str | None, str | None, str]],
                             *, at: datetime) -> None:
        """Record errors as (entity, psa_id, message) triples."""
        if errors:
            await self._executemany(
                "INSERT INTO run_errors (run_id, entity, psa_id, message, at) VALUES (?, ?, ?, ?, ?)",
                [(run_id, e, p, safe_error(m), ts(at)) for e, p, m in errors], WriteTurn.RUN_LOG)

    async def interrupt_unfinished_runs(self, *, at: datetime) -> list[RunRecord]:
        """Mark runs a dead process left queued or running as interrupted; returns them."""
        async with self._writer.execute(
            "SELECT * FROM runs WHERE outcome IN ('queued', 'running') ORDER BY id") as cur:
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, row)) for row in await cur.fetchall()]
        if rows:
            await self._execute(
                "UPDATE runs SET outcome = 'interrupted', finished_at = ?, "
                "error = COALESCE(error, 'psad stopped before this run finished') "
                "WHERE outcome IN ('queued', 'running')", (ts(at),))
        return [_run(row) for row in rows]

    # -- reads (reader connection) -------------------------------------------

    async def _fetch_all(self, sql: str, args: Sequence[Any] | dict[str, Any] = ()
                         ) -> list[dict[str, Any]]:
        """One read, executed and fetched to its end in one step on the reader's thread.

        Separate execute / fetch / close steps let concurrent reads interleave on the
        shared reader, and while any statement is open SQLite keeps the snapshot it
        started with: under steady reads a run just created stayed invisible (404).
        """
        rows = await self._reader.execute_fetchall(sql, args)
        return [dict(row) for row in rows]

    async def _fetch_one(self, sql: str, args: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = await self._fetch_all(sql, args)
        return rows[0] if rows else None

    async def get_run(self, run_id: int) -> RunDetail | None:
        run = await self._fetch_one("SELECT * FROM runs WHERE id = ?", (run_id,))
        if run is None:
            return None
        entities = await self._fetch_all(
            "SELECT entity, mode, started_at, finished_at, complete, fetched, created, updated, "
            "unchanged, deleted, rejected, requests, note FROM run_entities WHERE run_id = ? "
            "ORDER BY started_at", (run_id,))
        errors = await self._fetch_all(
            "SELECT entity, psa_id, message, at FROM run_errors WHERE run_id = ? ORDER BY id",
            (run_id,))
        return RunDetail(
            run=_run(run),
            entities=tuple(RunEntityRecord(**{**e, "complete": bool(e["complete"])})
                           for e in entities),
            errors=tuple(RunErrorRecord(**e) for e in errors))

    async def list_runs(self, *, integration: str | None = None, outcome: str | None = None,
                        before: int | None = None, limit: int = 50) -> list[RunRecord]:
        where: list[str] = ["1 = 1"]
        args: list[object] = []
        if integration:
            where.append("integration = ?")
            args.append(integration)
        if outcome:
            where.append("outcome = ?")
            args.append(outcome)
        if before:
            where.append("id < ?")
            args.append(before)
        runs = await self._fetch_all(
            f"SELECT * FROM runs WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*args, limit))
        return [_run(run) for run in runs]

    async def latest_interrupted_runs(self) -> list[RunRecord]:
        rows = await self._fetch_all(
            "SELECT r.* FROM runs r JOIN (SELECT integration, max(id) AS id FROM runs "
            "GROUP BY integration) latest ON latest.id = r.id "
            "WHERE r.outcome = 'interrupted' ORDER BY r.id")
        return [_run(row) for row in rows]

    async def last_finished_run(self, integration: str) -> RunRecord | None:
        row = await self._fetch_one(
            "SELECT * FROM runs WHERE integration = ? AND outcome NOT IN ('queued', 'running') "
            "ORDER BY id DESC LIMIT 1", (integration,))
        return _run(row) if row else None

    async def last_succeeded_run(self, integration: str) -> RunRecord | None:
        row = await self._fetch_one(
            "SELECT * FROM runs WHERE integration = ? AND outcome = 'succeeded' "
            "ORDER BY id DESC LIMIT 1", (integration,))
        return _run(row) if row else None

    async def nightly_covered(self, integration: str, since: datetime) -> bool:
        row = await self._fetch_one(
            "SELECT id FROM runs WHERE integration = ? AND trigger IN ('nightly', 'startup') "
            "AND queued_at >= ? AND outcome != 'cancelled' LIMIT 1", (integration, ts(since)))
        return row is not None

    async def run_count(self) -> int:
        row = await self._fetch_one("SELECT count(*) AS n FROM runs")
        return int(row["n"]) if row else 0

    async def _rows(self, integration: str, entity: Entity, *, where: str = "",
                    args: Sequence[Any] = (), order: str = "psa_id", limit: int | None = None,
                    offset: int = 0) -> list[Row]:
        """Entity rows; ``where``/``order`` are SQL written in this module only."""
        sql = f"SELECT * FROM {entity.value} WHERE integration = ?"
        if where:
            sql += f" AND ({where})"
        sql += f" ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        rows = await self._fetch_all(sql, (integration, *args))
        return [from_row(entity, row) for row in rows]

    async def records(self, integration: str, entity: Entity, *,
                      include_deleted: bool = True) -> list[Row]:
        return await self._rows(integration, entity,
                                where="" if include_deleted else "deleted_at IS NULL")

    async def record(self, integration: str, entity: Entity, psa_id: str) -> Row | None:
        found = await self._rows(integration, entity, where="psa_id = ?", args=(psa_id,))
        return found[0] if found else None

    async def entity_page(self, integration: str, entity: Entity,
                          query: EntityQuery) -> EntityPage:
        where: list[str] = []
        args: list[object] = []
        if not query.include_deleted:
            where.append("deleted_at IS NULL")
        if query.company is not None:
            if not entity.is_company_child:
                raise ValueError(f"{entity.value} do not belong to a company")
            where.append("company_psa_id = ?")
            args.append(query.company)
        if query.text:
            fields = _SEARCHED[entity]
            where.append(" OR ".join(f"{f} LIKE ? ESCAPE '\\'" for f in fields))
            args.extend([_like(query.text)] * len(fields))
        if query.updated_since is not None:
            where.append("updated_at >= ? OR deleted_at >= ?")
            args.extend([ts(query.updated_since)] * 2)
        if query.out_of_scope is not None:
            where.append("out_of_scope = ?")
            args.append(int(query.out_of_scope))
        if query.after is not None:
            where.append("psa_id > ?")
            args.append(query.after)
        rows = await self._rows(integration, entity,
                                where=" AND ".join(f"({w})" for w in where), args=args,
                                limit=query.limit + 1)
        return EntityPage(rows=tuple(rows[:query.limit]), has_more=len(rows) > query.limit)

    async def company_page(self, integration: str, *, text: str | None, limit: int,
                           offset: int) -> CompanyPage:
        where, args = ("name LIKE ? ESCAPE '\\'", (_like(text),)) if text else ("", ())
        rows = await self._rows(integration, Entity.COMPANY, where=where, args=args,
                                limit=limit, offset=offset, order="name COLLATE NOCASE, psa_id")
        total = await self._fetch_one(
            "SELECT count(*) AS n FROM companies WHERE integration = ?"
            + (f" AND {where}" if where else ""), (integration, *args))
        ids = [row["psa_id"] for row in rows]
        children: dict[str, dict[str, int]] = {cid: {} for cid in ids}
        for entity in COMPANY_CHILDREN:
            for row in await self._fetch_all(
                    f"SELECT company_psa_id AS id, count(*) AS n FROM {entity.value} "
                    "WHERE integration = ? AND deleted_at IS NULL AND company_psa_id IN "
                    "(SELECT value FROM json_each(?)) GROUP BY company_psa_id",
                    (integration, json.dumps(ids))):
                children[row["id"]][entity.value] = row["n"]
        return CompanyPage(companies=tuple(rows), total=total["n"] if total else 0,
                           children=children)

    async def company_names(self, integration: str, psa_ids: Iterable[str]) -> dict[str, str]:
        rows = await self._fetch_all(
            "SELECT psa_id, name FROM companies WHERE integration = ? AND psa_id IN "
            "(SELECT value FROM json_each(?))", (integration, json.dumps(sorted(psa_ids))))
        return {row["psa_id"]: row["name"] for row in rows}

    async def company_detail(self, integration: str, psa_id: str) -> CompanyDetail | None:
        company = await self.record(integration, Entity.COMPANY, psa_id)
        if company is None:
            return None
        orders = {Entity.SITE: '"primary" DESC, name COLLATE NOCASE',
                  Entity.CONTACT: "last_name COLLATE NOCASE, first_name COLLATE NOCASE",
                  Entity.ASSET: "name COLLATE NOCASE"}
        children = {entity: tuple(await self._rows(
            integration, entity, where="company_psa_id = ?", args=(psa_id,),
            order=f"deleted_at IS NOT NULL, {orders[entity]}, psa_id"))
            for entity in COMPANY_CHILDREN}
        return CompanyDetail(company=company, sites=children[Entity.SITE],
                             contacts=children[Entity.CONTACT], assets=children[Entity.ASSET])

    async def ticket_choices(self, integration: str) -> TicketChoices:
        async def live(entity: Entity, order: str, where: str = "deleted_at IS NULL"
                       ) -> tuple[Row, ...]:
            return tuple(await self._rows(integration, entity, where=where, order=order))

        return TicketChoices(
            companies=await live(Entity.COMPANY, "name COLLATE NOCASE, psa_id",
                                 "deleted_at IS NULL AND out_of_scope = 0"),
            boards=await live(Entity.BOARD, "name COLLATE NOCASE, psa_id"),
            statuses=await live(Entity.TICKET_STATUS, "sort_order, name COLLATE NOCASE, psa_id"),
            priorities=await live(Entity.PRIORITY, "sort_order, name COLLATE NOCASE, psa_id"))

    async def count_records(self, integration: str) -> dict[str, RecordCounts]:
        """Live, deleted and out-of-scope rows per entity, as the writes keep them."""
        rows = await self._fetch_all(
            "SELECT entity, live, deleted, out_of_scope FROM entity_counts "
            "WHERE integration = ?", (integration,))
        kept = {row.pop("entity"): RecordCounts(**row) for row in rows}
        return {e.value: kept.get(e.value, RecordCounts(live=0, deleted=0, out_of_scope=0))
                for e in Entity}

    async def entity_states(self, integration: str) -> dict[str, EntitySyncState]:
        rows = await self._fetch_all(
            "SELECT entity, cursor, last_success_at, last_success_run, last_full_sweep_at "
            "FROM entity_state WHERE integration = ?", (integration,))
        return {row["entity"]: EntitySyncState(**row) for row in rows}

    async def close_run(self, run_id: int, *, outcome: str, error: str, at: datetime) -> bool:
        """End a run that is still queued or running; False if it had already ended."""
        if outcome not in FINAL_OUTCOMES:
            raise ValueError(f"{outcome!r} is not a final outcome")
        cur = await self._execute(
            "UPDATE runs SET outcome = ?, error = ?, finished_at = ?, current_entity = NULL "
            "WHERE id = ? AND outcome IN ('queued', 'running')",
            (outcome, safe_error(error), ts(at), run_id))
        return cur.rowcount > 0

    # -- dashboard sessions -------------------------------------------------

    async def revoke_session(self, session_id: str, expires_at: datetime) -> None:
        """Remember a logged-out session until ``expires_at``; forget expired ones."""
        async with self._transaction(WriteTurn.RUN_LOG) as conn:
            await conn.execute("DELETE FROM revoked_sessions WHERE expires_at <= ?",
                               (ts(utcnow()),))
            await conn.execute("INSERT OR REPLACE INTO revoked_sessions (id, expires_at) "
                               "VALUES (?, ?)", (session_id, ts(expires_at)))

    async def revoked_sessions(self, now: datetime) -> dict[str, datetime]:
        """Revoked session ids that have not expired by ``now``, with their expiry."""
        rows = await self._fetch_all("SELECT id, expires_at FROM revoked_sessions "
                                     "WHERE expires_at > ?", (ts(now),))
        return {row["id"]: datetime.fromisoformat(row["expires_at"]) for row in rows}

    # -- custom fields the PSA offers ------------------------------------------

    async def save_custom_fields(self, integration: str, entity: Entity,
                                 counts: Mapping[str, int], *, at: datetime) -> None:
        """What a complete fetch of ``entity`` found: field name → records carrying it."""
        async with self._transaction() as conn:
            await conn.execute("DELETE FROM custom_fields WHERE integration = ? AND entity = ?",
                               (integration, entity.value))
            await conn.executemany(
                "INSERT INTO custom_fields (integration, entity, name, records, seen_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(integration, entity.value, name, n, ts(at)) for name, n in counts.items()])

    async def custom_fields(self, integration: str) -> dict[str, dict[str, int]]:
        """Entity → custom field → how many records carry it, as last discovered."""
        found: dict[str, dict[str, int]] = {}
        for row in await self._fetch_all(
                "SELECT entity, name, records FROM custom_fields WHERE integration = ? "
                "ORDER BY entity, name COLLATE NOCASE", (integration,)):
            found.setdefault(row["entity"], {})[row["name"]] = row["records"]
        return found

    @staticmethod
    def read_custom_fields(path: Path) -> dict[str, dict[str, dict[str, int]]]:
        """Every integration's discovered custom fields, read-only and blocking (for
        ``psad check-config``); empty when the database or its table does not exist."""
        if not path.exists():
            return {}
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            try:
                rows = conn.execute(
                    "SELECT integration, entity, name, records FROM custom_fields").fetchall()
            except sqlite3.OperationalError:
                return {}
        found: dict[str, dict[str, dict[str, int]]] = {}
        for integration, entity, name, records in rows:
            found.setdefault(integration, {}).setdefault(entity, {})[name] = records
        return found


_SEARCHED: dict[Entity, tuple[str, ...]] = {
    Entity.ASSET: ("name", "serial_number"),
    Entity.CONTACT: ("first_name", "last_name", "email"),
}
"""Columns a text search matches; every other entity is searched by ``name``."""
_SEARCHED.update({e: ("name",) for e in Entity if e not in _SEARCHED})


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _run(row: dict[str, Any]) -> RunRecord:
    return RunRecord(**{**row, "full_sync": bool(row["full_sync"])})


def _kind(deleted: bool, out_of_scope: bool) -> int:
    """A row's place in ``entity_counts`` order: live, deleted, out of scope."""
    return 1 if deleted else 2 if out_of_scope else 0


async def _add_counts(db: aiosqlite.Connection, integration: str, table: str,
                      change: Sequence[int]) -> None:
    """Move an entity's kept counts by ``change`` (live, deleted, out of scope)."""
    if any(change):
        await db.execute(
            "INSERT INTO entity_counts (integration, entity, live, deleted, out_of_scope) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (integration, entity) DO UPDATE SET "
            "live = live + excluded.live, deleted = deleted + excluded.deleted, "
            "out_of_scope = out_of_scope + excluded.out_of_scope",
            (integration, table, *change))


def _prepare_files(path: Path) -> None:
    """A new database, and the directory psad makes for it, are the owner's alone (blocking)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        create_private(path)


def _prepare_rows(records: dict[str, Record]) -> tuple[dict[str, tuple[object, ...]],
                                                         dict[str, str]]:
    """Rows and their digests (CPU work, run in a thread to keep the loop free)."""
    rows = {psa_id: to_row(record) for psa_id, record in records.items()}
    return rows, {psa_id: content_hash(row) for psa_id, row in rows.items()}


async def _migrate(conn: aiosqlite.Connection) -> None:
    async with conn.execute("PRAGMA user_version") as cur:
        version = (await cur.fetchone() or (0,))[0]
    if version > SCHEMA_VERSION:
        raise DatabaseUnavailable(f"schema version {version} is newer than this psad "
                           f"understands ({SCHEMA_VERSION}); upgrade psad")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {number}")
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        log.info("database schema migrated to version %d", number)


def _statements(script: str) -> list[str]:
    parts, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            parts.append(buf.strip())
            buf = ""
    if buf.strip():
        parts.append(buf.strip())
    return parts
