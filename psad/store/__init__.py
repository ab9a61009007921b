"""The SQLite store: entity tables, the sync log and per-entity sync state.

One writer connection serialises every write (it is the write lock: psad's
own writes never meet SQLITE_BUSY), one transaction per page. A second
connection serves reads, so the dashboard never waits behind a big sync (WAL).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from psad.model import Entity, Record
from psad.store.rows import columns, content_hash, from_row, to_row
from psad.store.schema import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger("psad.store")

OUTCOMES = ("queued", "running", "succeeded", "partial", "failed", "interrupted", "cancelled")
FINAL_OUTCOMES = ("succeeded", "partial", "failed", "interrupted", "cancelled")
MASS_DELETE_FLOOR = 10
"""Below this many live rows the mass-delete guard does not apply."""


def ts(moment: datetime) -> str:
    """Stored timestamps: UTC ISO-8601 with microseconds, so they sort as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def utcnow() -> datetime:
    return datetime.now(UTC)


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
            with sqlite3.connect(backup) as dest:
                conn.backup(dest)
            return backup
    return None


class Store:
    def __init__(self, path: Path, writer: aiosqlite.Connection,
                 reader: aiosqlite.Connection) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._columns = {e: columns(e) for e in Entity}
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
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
        except BaseException:
            await writer.close()
            raise
        await reader.execute("PRAGMA busy_timeout=10000")
        reader.row_factory = aiosqlite.Row
        return cls(path, writer, reader)

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time on the single writer connection.

        ``BEGIN`` sits inside the ``try``: a task cancelled while waiting for it
        leaves the statement queued on the connection's thread, and only the
        ``ROLLBACK`` queued after it keeps later writes out of an orphaned
        transaction.
        """
        async with self._write_lock:
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
                yield self._writer
            except BaseException:
                await self._rollback()
                raise
            await self._writer.execute("COMMIT")

    async def _execute(self, sql: str, args: Sequence[Any] = ()) -> aiosqlite.Cursor:
        async with self._write_lock:
            return await self._writer.execute(sql, args)

    async def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._write_lock:
            await self._writer.executemany(sql, rows)

    async def ping(self) -> bool:
        try:
            async with self._reader.execute("SELECT 1") as cur:
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
                elif old != (digests[psa_id], False, bool(scope)):
                    updates.append((digests[psa_id], scope, stamp, stamp, *row, integration,
                                    psa_id))
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
                    written_since: datetime, max_share: float) -> SweepResult:
        """Soft-delete live rows the run did not see upstream, unless that is too many."""
        table = entity.value
        missing = ("integration = ? AND deleted_at IS NULL AND last_seen < ? AND psa_id "
                   "NOT IN (SELECT psa_id FROM temp.seen WHERE run_id = ? AND entity = ?)")
        args = (integration, ts(written_since), run_id, table)
        async with self._transaction() as db:
            async with db.execute(
                f"SELECT count(*) FROM {table} WHERE integration = ? AND deleted_at IS NULL",
                (integration,)) as cur:
                live = (await cur.fetchone() or (0,))[0]
            async with db.execute(f"SELECT count(*) FROM {table} WHERE {missing}", args) as cur:
                missing_count = (await cur.fetchone() or (0,))[0]
            refused = live >= MASS_DELETE_FLOOR and missing_count > max_share * live
            deleted = 0
            if missing_count and not refused:
                await db.execute(f"UPDATE {table} SET deleted_at = ? WHERE {missing}",
                                 (ts(now), *args))
                deleted = missing_count
        return SweepResult(deleted=deleted, refused=refused, live=live, missing=missing_count)

    async def live_count(self, integration: str, entity: Entity) -> int:
        """Stored rows of ``entity`` not deleted (in scope or not: both are upstream)."""
        async with self._writer.execute(
                f"SELECT count(*) FROM {entity.value} WHERE integration = ? "
                "AND deleted_at IS NULL", (integration,)) as cur:
            return int((await cur.fetchone() or (0,))[0])

    async def forget_seen(self, run_id: int) -> None:
        await self._execute("DELETE FROM temp.seen WHERE run_id = ?", (run_id,))

    async def apply_company_scope(self, integration: str, entity: Entity) -> int:
        """Mark a company child out of scope exactly when its company is; returns rows changed."""
        table = entity.value
        cur = await self._execute(
            f"""UPDATE {table} SET out_of_scope = new_scope FROM (
                    SELECT t.psa_id AS id, COALESCE(c.out_of_scope, 0) AS new_scope
                    FROM {table} t LEFT JOIN companies c
                      ON c.integration = t.integration AND c.psa_id = t.company_psa_id
                    WHERE t.integration = ?)
                WHERE integration = ? AND psa_id = id AND out_of_scope != new_scope""",
            (integration, integration))
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
                [(run_id, e, p, m, ts(at)) for e, p, m in errors])

    async def interrupt_unfinished_runs(self, *, at: datetime) -> list[dict[str, Any]]:
        """Mark runs a dead process left queued or running as interrupted; returns them."""
        async with self._writer.execute(
            "SELECT id, integration, trigger, requested_by, full_sync, outcome FROM runs "
            "WHERE outcome IN ('queued', 'running') ORDER BY id") as cur:
            rows = await cur.fetchall()
        if rows:
            await self._execute(
                "UPDATE runs SET outcome = 'interrupted', finished_at = ?, "
                "error = COALESCE(error, 'psad stopped before this run finished') "
                "WHERE outcome IN ('queued', 'running')", (ts(at),))
        return [dict(zip(("id", "integration", "trigger", "requested_by", "full_sync",
                          "outcome"), row)) for row in rows]

    # -- reads (reader connection) -------------------------------------------

    async def fetch_all(self, sql: str, args: Sequence[Any] | dict[str, Any] = ()
                        ) -> list[dict[str, Any]]:
        async with self._reader.execute(sql, args) as cur:
            return [dict(row) for row in await cur.fetchall()]

    async def fetch_one(self, sql: str, args: Sequence[Any] = ()) -> dict[str, Any] | None:
        async with self._reader.execute(sql, args) as cur:
            row = await cur.fetchone()
        return dict(row) if row is not None else None

    async def get_run(self, run_id: int) -> dict[str, Any] | None:
        run = await self.fetch_one("SELECT * FROM runs WHERE id = ?", (run_id,))
        if run is None:
            return None
        run["full_sync"] = bool(run["full_sync"])
        run["entities"] = await self.fetch_all(
            "SELECT entity, mode, started_at, finished_at, complete, fetched, created, updated, "
            "unchanged, deleted, rejected, requests, note FROM run_entities WHERE run_id = ? "
            "ORDER BY started_at", (run_id,))
        for entity in run["entities"]:
            entity["complete"] = bool(entity["complete"])
        run["errors"] = await self.fetch_all(
            "SELECT entity, psa_id, message, at FROM run_errors WHERE run_id = ? ORDER BY id",
            (run_id,))
        return run

    async def list_runs(self, *, integration: str | None = None, outcome: str | None = None,
                        before: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
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
        runs = await self.fetch_all(
            f"SELECT * FROM runs WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*args, limit))
        for run in runs:
            run["full_sync"] = bool(run["full_sync"])
        return runs

    async def records(self, integration: str, entity: Entity, *, include_deleted: bool = True,
                      where: str = "", args: Sequence[Any] = (), limit: int | None = None,
                      offset: int = 0, order: str = "psa_id") -> list[dict[str, Any]]:
        sql = f"SELECT * FROM {entity.value} WHERE integration = ?"
        if not include_deleted:
            sql += " AND deleted_at IS NULL"
        if where:
            sql += f" AND ({where})"
        sql += f" ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        rows = await self.fetch_all(sql, (integration, *args))
        return [from_row(entity, row) for row in rows]

    async def count_records(self, integration: str) -> dict[str, dict[str, int]]:
        """Live, deleted and out-of-scope rows per entity, in one query."""
        parts = " UNION ALL ".join(
            f"SELECT '{e.value}' AS entity, "
            "count(*) FILTER (WHERE deleted_at IS NULL AND out_of_scope = 0) AS live, "
            "count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted, "
            "count(*) FILTER (WHERE deleted_at IS NULL AND out_of_scope = 1) AS out_of_scope "
            f"FROM {e.value} WHERE integration = :integration" for e in Entity)
        rows = await self.fetch_all(parts, {"integration": integration})
        return {row.pop("entity"): row for row in rows}

    async def entity_states(self, integration: str) -> dict[str, dict[str, Any]]:
        rows = await self.fetch_all(
            "SELECT entity, cursor, last_success_at, last_success_run, last_full_sweep_at "
            "FROM entity_state WHERE integration = ?", (integration,))
        return {row.pop("entity"): row for row in rows}


def _prepare_rows(records: dict[str, Record]) -> tuple[dict[str, tuple[object, ...]],
                                                         dict[str, str]]:
    """Rows and their digests (CPU work, run in a thread to keep the loop free)."""
    rows = {psa_id: to_row(record) for psa_id, record in records.items()}
    return rows, {psa_id: content_hash(row) for psa_id, row in rows.items()}


async def _migrate(conn: aiosqlite.Connection) -> None:
    async with conn.execute("PRAGMA user_version") as cur:
        version = (await cur.fetchone() or (0,))[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"database schema version {version} is newer than this psad "
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
