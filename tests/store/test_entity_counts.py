"""The per-entity counts the store keeps match the rows after every kind of change."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from psad.model import Address, Company, Entity, Site
from psad.store import Store
from psad.store.contract import RecordCounts, StoreContract

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


async def counted(store: StoreContract, integration: str = "acme") -> dict[str, RecordCounts]:
    """The oracle: every entity's rows counted one by one."""
    counts = {}
    for entity in Entity:
        rows = await store.records(integration, entity, include_deleted=True)
        counts[entity.value] = RecordCounts(
            live=sum(r["deleted_at"] is None and not r["out_of_scope"] for r in rows),
            deleted=sum(r["deleted_at"] is not None for r in rows),
            out_of_scope=sum(r["deleted_at"] is None and r["out_of_scope"] for r in rows))
    return counts


def company(i: int, status: str = "Active", name: str = "") -> Company:
    return Company(psa_id=str(i), name=name or f"C{i}", website=None, status=status)


def site(i: int) -> Site:
    return Site(psa_id=str(i), company_psa_id=str(i % 20), name=f"S{i}", active=True,
                primary=False, address=Address(city="Leeds"))


async def full_run(store: StoreContract, companies: list[Company], at: datetime, *,
                   out_of_scope: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    run = await store.create_run("acme", "manual", "t", full=True, queued_at=at)
    await store.apply_page("acme", Entity.COMPANY, companies, now=at, run_id=run,
                           out_of_scope=out_of_scope)
    await store.sweep("acme", Entity.COMPANY, run, now=at, written_since=at, max_share=1.0)
    await store.apply_company_scope("acme", Entity.SITE)


async def test_counts_stay_exact_across_create_update_delete_and_scope_changes(
        store: StoreContract) -> None:
    at = iter(T0 + timedelta(hours=n) for n in range(100))
    assert await store.count_records("acme") == await counted(store)
    await full_run(store, [company(i) for i in range(30)], next(at), out_of_scope={"3", "4"})
    await store.apply_page("acme", Entity.SITE, [site(i) for i in range(40)], now=next(at))
    await store.apply_company_scope("acme", Entity.SITE)
    assert await store.count_records("acme") == await counted(store)
    # updates, scope flips both ways, deletions of live and out-of-scope rows
    changed = [company(i, name="renamed") for i in range(10)] + \
        [company(i) for i in range(10, 25)]
    await full_run(store, changed, next(at), out_of_scope={"5", "6", "7"})
    assert (await store.count_records("acme"))["companies"] == \
        RecordCounts(live=22, deleted=5, out_of_scope=3)
    assert await store.count_records("acme") == await counted(store)
    # resurrection, in and out of scope; a page repeated unchanged moves nothing
    back = [company(i) for i in range(30)]
    await full_run(store, back, next(at), out_of_scope={"27"})
    await full_run(store, back, next(at), out_of_scope={"27"})
    assert await store.count_records("acme") == await counted(store)
    await store.apply_page("b", Entity.COMPANY, [company(1)], now=next(at))
    assert (await store.count_records("b"))["companies"].live == 1
    assert await store.count_records("acme") == await counted(store)


async def test_migration_counts_rows_already_stored(tmp_path: Path) -> None:
    path = tmp_path / "psad.db"
    store = await Store.open(path)
    await store.apply_page("acme", Entity.COMPANY, [company(i) for i in range(12)], now=T0,
                           out_of_scope=["1"])
    await store.close()
    with sqlite3.connect(path) as conn:  # as the version before the counts were kept
        conn.execute("DROP TABLE entity_counts")
        conn.execute("DROP TABLE custom_fields")  # migration 5, re-applied after 4
        conn.execute("PRAGMA user_version = 3")
    store = await Store.open(path)
    try:
        assert (await store.count_records("acme"))["companies"] == \
            RecordCounts(live=11, deleted=0, out_of_scope=1)
    finally:
        await store.close()


@pytest.mark.sqlite_only("SQLite's reader connection (PostgreSQL's: test_postgres_health)")
async def test_health_ping_does_not_queue_behind_a_dashboard_query(sqlite_store: Store) -> None:
    store = sqlite_store
    slow = asyncio.create_task(store._fetch_all(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) "
        "SELECT count(*) AS n FROM c"))
    await asyncio.sleep(0.05)  # the reader's thread is now busy with it
    assert await store.ping()
    assert not slow.done()
    assert (await slow)[0]["n"] == 5000000
