"""The store: per-page upserts, change detection, soft deletes, sync log, migrations."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from conftest import store_snapshot, table_columns
from psad.model import Address, Asset, Company, Entity, Site
from psad.store import Store, backup_before_migrate
from psad.store.contract import StoreContract
from psad.store.rows import columns
from psad.store.schema import SCHEMA_VERSION

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def asset(i: int, notes: str = "n") -> Asset:
    return Asset(psa_id=str(i), company_psa_id="1", name=f"PC-{i}", status="Active",
                 type="Workstation", purchase_date=date(2024, 1, 2), serial_number=f"SN{i}",
                 notes=notes, custom_fields={"Backup": True, "Rack": None})


async def test_tables_match_the_model_for_every_entity(store: StoreContract) -> None:
    for entity in Entity:
        assert set(columns(entity)) <= await table_columns(store, entity.value), entity


async def test_page_upsert_counts_created_updated_unchanged(store: StoreContract) -> None:
    first = await store.apply_page("acme", Entity.ASSET, [asset(i) for i in range(10)], now=NOW)
    assert (first.created, first.updated, first.unchanged) == (10, 0, 0)
    page = [asset(i, notes="changed" if i < 3 else "n") for i in range(12)]
    second = await store.apply_page("acme", Entity.ASSET, page, now=NOW)
    assert (second.fetched, second.created, second.updated, second.unchanged) == (12, 2, 3, 7)
    rows = await store.records("acme", Entity.ASSET)
    assert rows[0]["notes"] == "changed" and rows[0]["custom_fields"] == {"Backup": True, "Rack": None}
    assert rows[0]["purchase_date"] == "2024-01-02"


async def test_unchanged_page_writes_nothing(store: StoreContract) -> None:
    await store.apply_page("acme", Entity.ASSET, [asset(i) for i in range(50)], now=NOW)
    before = await store_snapshot(store)
    counts = await store.apply_page("acme", Entity.ASSET, [asset(i) for i in range(50)],
                                    now=datetime(2027, 1, 1, tzinfo=UTC))
    assert counts.unchanged == 50 and await store_snapshot(store) == before


@pytest.mark.sqlite_only("counts SQLite's own row changes")
async def test_unchanged_page_changes_no_sqlite_row(sqlite_store: Store) -> None:
    store = sqlite_store
    await store.apply_page("acme", Entity.ASSET, [asset(i) for i in range(50)], now=NOW)
    async with store._writer.execute("SELECT total_changes()") as cur:
        changes_before = (await cur.fetchone())[0]
    counts = await store.apply_page("acme", Entity.ASSET, [asset(i) for i in range(50)],
                                    now=datetime(2027, 1, 1, tzinfo=UTC))
    async with store._writer.execute("SELECT total_changes()") as cur:
        changes_after = (await cur.fetchone())[0]
    assert counts.unchanged == 50 and changes_after == changes_before


async def test_integrations_are_kept_apart(store: StoreContract) -> None:
    await store.apply_page("a", Entity.ASSET, [asset(1)], now=NOW)
    counts = await store.apply_page("b", Entity.ASSET, [asset(1)], now=NOW)
    assert counts.created == 1
    assert len(await store.records("a", Entity.ASSET)) == 1


async def test_sweep_soft_deletes_unseen_rows_and_resurrects_them(store: StoreContract) -> None:
    run = await store.create_run("acme", "manual", "t", full=True, queued_at=NOW)
    await store.apply_page("acme", Entity.ASSET, [asset(i) for i in range(20)], now=NOW, run_id=run)
    run2 = await store.create_run("acme", "manual", "t", full=True, queued_at=NOW)
    await store.apply_page("acme", Entity.ASSET, [asset(i) for i in range(18)], now=LATER,
                           run_id=run2)
    result = await store.sweep("acme", Entity.ASSET, run2, now=LATER, written_since=LATER,
                               max_share=0.5)
    assert (result.deleted, result.refused) == (2, False)
    rows = {r["psa_id"]: r for r in await store.records("acme", Entity.ASSET)}
    assert rows["19"]["deleted_at"] is not None and rows["0"]["deleted_at"] is None
    assert len(rows) == 20  # never a hard delete
    back = await store.apply_page("acme", Entity.ASSET, [asset(19)], now=NOW)
    assert back.updated == 1
    assert (await store.record("acme", Entity.ASSET, "19"))["deleted_at"] is None


async def test_mass_delete_guard_refuses_and_deletes_nothing(store: StoreContract) -> None:
    run = await store.create_run("acme", "manual", "t", full=True, queued_at=NOW)
    await store.apply_page("acme", Entity.ASSET, [asset(i) for i in range(20)], now=NOW, run_id=run)
    run2 = await store.create_run("acme", "manual", "t", full=True, queued_at=NOW)
    await store.apply_page("acme", Entity.ASSET, [asset(i) for i in range(5)], now=LATER,
                           run_id=run2)
    result = await store.sweep("acme", Entity.ASSET, run2, now=LATER, written_since=LATER,
                               max_share=0.5)
    assert (result.deleted, result.refused, result.missing, result.live) == (0, True, 15, 20)
    assert all(r["deleted_at"] is None for r in await store.records("acme", Entity.ASSET))


async def test_company_scope_flows_to_sites(store: StoreContract) -> None:
    companies = [Company(psa_id="1", name="In", website=None, status="Active"),
                 Company(psa_id="2", name="Out", website=None, status="Lead")]
    await store.apply_page("acme", Entity.COMPANY, companies, now=NOW, out_of_scope=["2"])
    sites = [Site(psa_id=str(i), company_psa_id=str(1 + i % 2), name=f"S{i}", active=True,
                  primary=False, address=Address(city="Leeds")) for i in range(4)]
    await store.apply_page("acme", Entity.SITE, sites, now=NOW)
    assert await store.apply_company_scope("acme", Entity.SITE) == 2
    scoped = {r["psa_id"]: r["out_of_scope"] for r in await store.records("acme", Entity.SITE)}
    assert scoped == {"0": False, "1": True, "2": False, "3": True}
    assert await store.apply_company_scope("acme", Entity.SITE) == 0


async def test_unfinished_runs_are_marked_interrupted_at_start(store: StoreContract) -> None:
    queued = await store.create_run("acme", "force", "u", full=False, queued_at=NOW)
    running = await store.create_run("acme", "nightly", "s", full=False, queued_at=NOW)
    await store.update_run(running, outcome="running", started_at=NOW)
    done = await store.create_run("acme", "nightly", "s", full=False, queued_at=NOW)
    await store.update_run(done, outcome="succeeded", finished_at=NOW)
    found = await store.interrupt_unfinished_runs(at=NOW)
    assert [r.id for r in found] == [queued, running]
    assert {(await store.get_run(i)).run.outcome for i in (queued, running)} == {"interrupted"}
    assert (await store.get_run(done)).run.outcome == "succeeded"


async def test_schema_version_is_recorded_and_old_databases_are_backed_up(tmp_path: Path) -> None:
    path = tmp_path / "psad.db"
    store = await Store.open(path)
    await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert backup_before_migrate(path) is None  # current: nothing to copy
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.execute("CREATE TABLE keep (x)")
        conn.execute("PRAGMA user_version = 0")
    assert backup_before_migrate(old) is None  # empty/new database


async def delete_companies(store: StoreContract, keep: range, *, now: datetime,
                           guard_days: int = 7) -> tuple[int, bool]:
    """One full run that sees only ``keep`` upstream; the sweep's (deleted, refused)."""
    run = await store.create_run("acme", "manual", "t", full=True, queued_at=now)
    companies = [Company(psa_id=str(i), name=f"C{i}", website=None, status="Active")
                 for i in keep]
    await store.apply_page("acme", Entity.COMPANY, companies, now=now, run_id=run)
    result = await store.sweep("acme", Entity.COMPANY, run, now=now, written_since=now,
                               max_share=0.5, guard_since=now - timedelta(days=guard_days))
    return result.deleted, result.refused


async def test_mass_delete_guard_counts_deletions_spread_over_runs_in_its_window(
        store: StoreContract) -> None:
    assert await delete_companies(store, range(50), now=NOW) == (0, False)
    assert await delete_companies(store, range(26), now=NOW + timedelta(hours=1)) == (24, False)
    assert await delete_companies(store, range(13), now=LATER) == (0, True)  # 37 of 50
    live = await store.records("acme", Entity.COMPANY, include_deleted=False)
    assert len(live) == 26


async def test_mass_delete_guard_forgets_high_water_older_than_its_window(store: StoreContract) -> None:
    assert await delete_companies(store, range(50), now=NOW) == (0, False)
    assert await delete_companies(store, range(26), now=NOW + timedelta(hours=1)) == (24, False)
    week_later = NOW + timedelta(days=8)
    assert await delete_companies(store, range(13), now=week_later) == (13, False)


async def save_discovered_fields(store: StoreContract) -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    await store.save_custom_fields("acme", Entity.ASSET, {"Rack": 4, "Old": 1}, at=at)
    await store.save_custom_fields("acme", Entity.CONTACT, {"VIP": 2}, at=at)
    await store.save_custom_fields("acme", Entity.ASSET, {"Rack": 5}, at=at)


async def test_discovered_custom_fields_are_replaced_by_the_next_complete_fetch(
        store: StoreContract) -> None:
    await save_discovered_fields(store)
    assert await store.custom_fields("acme") == {"assets": {"Rack": 5}, "contacts": {"VIP": 2}}
    assert await store.custom_fields("other") == {}


@pytest.mark.sqlite_only("check-config reads a SQLite file without opening the store")
async def test_discovered_custom_fields_are_read_from_the_file_without_the_store(
        sqlite_store: Store, tmp_path: Path) -> None:
    await save_discovered_fields(sqlite_store)
    assert Store.read_custom_fields(sqlite_store.path) == {
        "acme": {"assets": {"Rack": 5}, "contacts": {"VIP": 2}}}
    assert Store.read_custom_fields(tmp_path / "missing.db") == {}
