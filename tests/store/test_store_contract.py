"""The store contract (psad/store/contract.py): what every backend must answer, and how.

Each test runs once per backend in BACKENDS; a new backend adds its factory
there (an async context manager yielding an open, empty store) and must pass
every test unchanged. PostgreSQL runs on a throwaway cluster the suite starts
(conftest's ``postgres_server``), a fresh database per test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from psad.model import (Address, Asset, Board, Company, Contact, Entity, Priority, Site,
                        TicketStatus)
from psad.store import MASS_DELETE_FLOOR, EntityResult, Store
from psad.store.contract import EntityQuery, StoreContract
from psad.store.postgres import PostgresStore

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


@asynccontextmanager
async def sqlite_store(request: pytest.FixtureRequest, tmp_path: Path
                       ) -> AsyncIterator[StoreContract]:
    store = await Store.open(tmp_path / "contract.db")
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def postgres_store(request: pytest.FixtureRequest, tmp_path: Path
                         ) -> AsyncIterator[StoreContract]:
    store = await PostgresStore.open(request.getfixturevalue("postgres_url"))
    try:
        yield store
    finally:
        await store.close()


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path],
                             AbstractAsyncContextManager[StoreContract]]] = {
    "sqlite": sqlite_store,
    "postgresql": postgres_store,
}


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path
                  ) -> AsyncIterator[StoreContract]:
    async with BACKENDS[request.param](request, tmp_path) as store:
        yield store


def company(i: int, name: str | None = None) -> Company:
    return Company(psa_id=str(i), name=name or f"Company {i}", website=None, status="Active")


def asset(i: int, company_id: str = "1", *, name: str | None = None,
          serial: str | None = None) -> Asset:
    return Asset(psa_id=str(i), company_psa_id=company_id, name=name or f"PC-{i:03d}",
                 status="Active", purchase_date=date(2024, 1, 2), serial_number=serial,
                 custom_fields={"Rack": f"R{i}"})


async def finished_run(store: StoreContract, name: str, outcome: str, *,
                       trigger: str = "force", queued_at: datetime = NOW) -> int:
    run_id = await store.create_run(name, trigger, "test", full=False, queued_at=queued_at)
    if outcome != "queued":
        await store.update_run(run_id, outcome=outcome, started_at=queued_at,
                               finished_at=None if outcome == "running" else queued_at)
    return run_id


# -- entity data ------------------------------------------------------------------------


async def test_rows_come_back_json_ready_with_the_promised_field_names(
        backend: StoreContract) -> None:
    await backend.apply_page("acme", Entity.ASSET, [asset(1)], now=NOW)
    row = await backend.record("acme", Entity.ASSET, "1")
    assert row is not None
    assert {"integration", "psa_id", "out_of_scope", "first_seen", "last_seen", "updated_at",
            "deleted_at", "company_psa_id", "name", "custom_fields", "purchase_date"} <= set(row)
    assert row["custom_fields"] == {"Rack": "R1"} and row["purchase_date"] == "2024-01-02"
    assert row["out_of_scope"] is False and row["deleted_at"] is None
    assert await backend.record("acme", Entity.ASSET, "2") is None
    assert await backend.record("other", Entity.ASSET, "1") is None


async def test_a_page_counts_created_updated_unchanged_and_a_later_duplicate_wins(
        backend: StoreContract) -> None:
    await backend.apply_page("acme", Entity.ASSET, [asset(i) for i in range(3)], now=NOW)
    counts = await backend.apply_page(
        "acme", Entity.ASSET, [asset(0), asset(1, name="old"), asset(1, name="new"), asset(3)],
        now=LATER)
    assert (counts.created, counts.updated, counts.unchanged) == (1, 1, 1)
    assert (await backend.record("acme", Entity.ASSET, "1") or {})["name"] == "new"


async def test_sweep_soft_deletes_unseen_rows_but_refuses_a_mass_delete(
        backend: StoreContract) -> None:
    live = MASS_DELETE_FLOOR * 2
    first = await finished_run(backend, "acme", "running")
    await backend.apply_page("acme", Entity.ASSET, [asset(i) for i in range(live)], now=NOW,
                             run_id=first)
    run = await finished_run(backend, "acme", "running")
    await backend.apply_page("acme", Entity.ASSET, [asset(i) for i in range(live - 2)],
                             now=LATER, run_id=run)
    result = await backend.sweep("acme", Entity.ASSET, run, now=LATER, written_since=LATER,
                                 max_share=0.5)
    assert (result.deleted, result.refused, result.missing) == (2, False, 2)
    again = await finished_run(backend, "acme", "running")
    await backend.remember_seen(again, Entity.ASSET, ["0"])
    refused = await backend.sweep("acme", Entity.ASSET, again, now=LATER,
                                  written_since=LATER + timedelta(1), max_share=0.5)
    assert refused.refused and refused.deleted == 0
    page = await backend.entity_page("acme", Entity.ASSET, EntityQuery(limit=500))
    assert len(page.rows) == live - 2


async def test_company_scope_flows_to_children(backend: StoreContract) -> None:
    await backend.apply_page("acme", Entity.COMPANY, [company(1), company(2)], now=NOW,
                             out_of_scope=["2"])
    await backend.apply_page("acme", Entity.ASSET, [asset(1, "1"), asset(2, "2")], now=NOW)
    assert await backend.apply_company_scope("acme", Entity.ASSET) == 1
    outside = await backend.entity_page("acme", Entity.ASSET, EntityQuery(out_of_scope=True))
    inside = await backend.entity_page("acme", Entity.ASSET, EntityQuery(out_of_scope=False))
    assert [r["psa_id"] for r in outside.rows] == ["2"]
    assert [r["psa_id"] for r in inside.rows] == ["1"]


async def test_entity_state_keeps_the_cursor_and_the_last_full_sweep(
        backend: StoreContract) -> None:
    run = await finished_run(backend, "acme", "running")
    await backend.entity_succeeded("acme", Entity.ASSET, run, cursor=NOW, at=NOW, swept=True)
    await backend.entity_succeeded("acme", Entity.ASSET, run, cursor=LATER, at=LATER,
                                   swept=False)
    state = await backend.entity_state("acme", Entity.ASSET)
    assert (state.cursor, state.last_success_at, state.last_full_sweep_at) == (LATER, LATER, NOW)
    states = await backend.entity_states("acme")
    assert set(states) == {"assets"}
    assert states["assets"].last_success_run == run
    assert states["assets"].last_success_at == LATER.isoformat(timespec="microseconds")
    assert await backend.entity_states("other") == {}


# -- the entity data API's queries ------------------------------------------------------


async def test_entity_pages_are_keyset_paged_without_gaps_or_repeats(
        backend: StoreContract) -> None:
    await backend.apply_page("acme", Entity.ASSET, [asset(i) for i in range(25)], now=NOW)
    seen: list[str] = []
    after = None
    while True:
        page = await backend.entity_page("acme", Entity.ASSET, EntityQuery(after=after, limit=10))
        seen += [r["psa_id"] for r in page.rows]
        if not page.has_more:
            break
        after = page.rows[-1]["psa_id"]
    assert seen == sorted(str(i) for i in range(25))


async def test_entity_pages_filter_by_company_text_deletion_and_change_time(
        backend: StoreContract) -> None:
    await backend.apply_page("acme", Entity.ASSET, [
        asset(1, "1", name="Mail server", serial="SN-1"), asset(2, "1", name="Laptop 50%"),
        asset(3, "2", name="Printer", serial="mail-9"), asset(4, "2", name="Laptop 50_")],
        now=NOW)
    run = await finished_run(backend, "acme", "running")
    await backend.apply_page("acme", Entity.ASSET, [asset(1, "1", name="Mail server (new)",
                                                          serial="SN-1")],
                             now=LATER, run_id=run)
    await backend.remember_seen(run, Entity.ASSET, ["2", "3"])
    await backend.sweep("acme", Entity.ASSET, run, now=LATER, written_since=LATER,
                        max_share=1.0)

    async def ids(**filters: object) -> list[str]:
        page = await backend.entity_page("acme", Entity.ASSET, EntityQuery(**filters))
        return [r["psa_id"] for r in page.rows]

    assert await ids() == ["1", "2", "3"]
    assert await ids(include_deleted=True) == ["1", "2", "3", "4"]
    assert await ids(company="2") == ["3"]
    assert await ids(text="MAIL") == ["1", "3"]  # name or serial, any case
    assert await ids(text="50%") == ["2"]  # wildcards are literal
    assert await ids(text="50_", include_deleted=True) == ["4"]
    assert await ids(updated_since=LATER) == ["1"]
    assert await ids(updated_since=LATER, include_deleted=True) == ["1", "4"]
    with pytest.raises(ValueError, match="company"):
        await backend.entity_page("acme", Entity.BOARD, EntityQuery(company="1"))


async def test_count_records_splits_live_deleted_and_out_of_scope(
        backend: StoreContract) -> None:
    await backend.apply_page("acme", Entity.COMPANY, [company(i) for i in range(4)], now=NOW,
                             out_of_scope=["3"])
    run = await finished_run(backend, "acme", "running")
    await backend.remember_seen(run, Entity.COMPANY, ["0", "1", "3"])
    await backend.sweep("acme", Entity.COMPANY, run, now=LATER, written_since=LATER,
                        max_share=1.0)
    counts = await backend.count_records("acme")
    assert set(counts) == {e.value for e in Entity}
    c = counts["companies"]
    assert (c.live, c.deleted, c.out_of_scope) == (2, 1, 1)
    assert counts["assets"].live == 0
    assert await backend.live_count("acme", Entity.COMPANY) == 3  # out of scope is upstream
    assert await backend.live_count("other", Entity.COMPANY) == 0


# -- dashboard pages ---------------------------------------------------------------------


async def test_company_page_searches_names_pages_and_counts_live_children(
        backend: StoreContract) -> None:
    names = ["beta", "Alpha", "gamma 100%", "Alphabet"]
    await backend.apply_page("acme", Entity.COMPANY,
                             [company(i, n) for i, n in enumerate(names)], now=NOW)
    await backend.apply_page("acme", Entity.ASSET, [asset(i, "1") for i in range(3)], now=NOW)
    await backend.apply_page("acme", Entity.SITE, [
        Site(psa_id="s", company_psa_id="1", name="HQ", active=True, primary=True)], now=NOW)
    page = await backend.company_page("acme", text=None, limit=2, offset=0)
    assert [c["name"] for c in page.companies] == ["Alpha", "Alphabet"] and page.total == 4
    assert page.children == {"1": {"assets": 3, "sites": 1}, "3": {}}
    second = await backend.company_page("acme", text=None, limit=2, offset=2)
    assert [c["name"] for c in second.companies] == ["beta", "gamma 100%"]
    found = await backend.company_page("acme", text="ALPHA", limit=50, offset=0)
    assert (found.total, [c["psa_id"] for c in found.companies]) == (2, ["1", "3"])
    literal = await backend.company_page("acme", text="0%", limit=50, offset=0)
    assert [c["psa_id"] for c in literal.companies] == ["2"]


async def test_company_detail_lists_children_in_reading_order_deleted_last(
        backend: StoreContract) -> None:
    await backend.apply_page("acme", Entity.COMPANY, [company(1)], now=NOW)
    await backend.apply_page("acme", Entity.SITE, [
        Site(psa_id="a", company_psa_id="1", name="Annex", active=True, primary=False),
        Site(psa_id="b", company_psa_id="1", name="Head office", active=True, primary=True,
             address=Address(city="Leeds"))], now=NOW)
    await backend.apply_page("acme", Entity.CONTACT, [
        Contact(psa_id="x", company_psa_id="1", first_name="Zoe", last_name="adams"),
        Contact(psa_id="y", company_psa_id="1", first_name="Al", last_name="Brown")], now=NOW)
    await backend.apply_page("acme", Entity.ASSET, [asset(1, name="b-pc"), asset(2, name="A-pc"),
                                                    asset(3, "2")], now=NOW)
    run = await finished_run(backend, "acme", "running")
    await backend.remember_seen(run, Entity.ASSET, ["1", "3"])
    await backend.sweep("acme", Entity.ASSET, run, now=LATER, written_since=LATER,
                        max_share=1.0)
    detail = await backend.company_detail("acme", "1")
    assert detail is not None and detail.company["name"] == "Company 1"
    assert [s["psa_id"] for s in detail.sites] == ["b", "a"]
    assert detail.sites[0]["address"]["city"] == "Leeds"
    assert [c["psa_id"] for c in detail.contacts] == ["x", "y"]
    assert [a["psa_id"] for a in detail.assets] == ["1", "2"]  # A-pc is deleted
    assert await backend.company_detail("acme", "9") is None
    assert await backend.company_names("acme", ["1", "9"]) == {"1": "Company 1"}


async def test_ticket_choices_are_live_set_up_data_in_display_order(
        backend: StoreContract) -> None:
    await backend.apply_page("acme", Entity.COMPANY, [company(1, "b"), company(2, "A"),
                                                      company(3, "c")], now=NOW,
                             out_of_scope=["3"])
    await backend.apply_page("acme", Entity.BOARD, [Board(psa_id="1", name="service"),
                                                    Board(psa_id="2", name="Projects")], now=NOW)
    await backend.apply_page("acme", Entity.PRIORITY, [
        Priority(psa_id="1", name="Low", sort_order=3),
        Priority(psa_id="2", name="High", sort_order=1)], now=NOW)
    await backend.apply_page("acme", Entity.TICKET_STATUS, [
        TicketStatus(psa_id="1", name="Closed", board_psa_id="1", closed=True, sort_order=9),
        TicketStatus(psa_id="2", name="New", board_psa_id="1", sort_order=1)], now=NOW)
    choices = await backend.ticket_choices("acme")
    assert [c["psa_id"] for c in choices.companies] == ["2", "1"]
    assert [b["name"] for b in choices.boards] == ["Projects", "service"]
    assert [p["name"] for p in choices.priorities] == ["High", "Low"]
    assert [s["name"] for s in choices.statuses] == ["New", "Closed"]


# -- the sync log ---------------------------------------------------------------------------


async def test_a_run_keeps_its_fields_entity_counts_and_errors_in_order(
        backend: StoreContract) -> None:
    run_id = await backend.create_run("acme", "nightly", "schedule", full=True, queued_at=NOW,
                                      scheduled_for=NOW - timedelta(hours=6))
    await backend.update_run(run_id, outcome="partial", started_at=NOW, finished_at=LATER,
                             error="one asset was rejected")
    result = EntityResult(entity=Entity.ASSET, mode="full", started_at=NOW, finished_at=LATER,
                          complete=True, fetched=5, created=4, rejected=1)
    await backend.save_entity_result(run_id, result)
    await backend.add_run_errors(run_id, [("assets", "7", "no name"), (None, None, "late")],
                                 at=LATER)
    detail = await backend.get_run(run_id)
    assert detail is not None
    run = detail.run
    assert (run.id, run.integration, run.trigger, run.requested_by, run.full_sync,
            run.outcome, run.error) == (run_id, "acme", "nightly", "schedule", True, "partial",
                                        "one asset was rejected")
    assert run.scheduled_for and run.scheduled_for.startswith("2026-11-25T04:00:00")
    (entity,) = detail.entities
    assert (entity.entity, entity.complete, entity.fetched, entity.created,
            entity.rejected) == ("assets", True, 5, 4, 1)
    assert [(e.entity, e.psa_id, e.message) for e in detail.errors] == [
        ("assets", "7", "no name"), (None, None, "late")]
    body = detail.to_json()
    assert body["id"] == run_id and body["entities"][0]["fetched"] == 5
    assert body["errors"][1]["message"] == "late"
    assert await backend.get_run(run_id + 100) is None
    with pytest.raises(ValueError):
        await backend.update_run(run_id, integration="other")


async def test_runs_are_listed_newest_first_and_filtered(backend: StoreContract) -> None:
    ids = [await finished_run(backend, name, outcome) for name, outcome in
           [("a", "succeeded"), ("b", "failed"), ("a", "failed"), ("a", "succeeded")]]
    assert [r.id for r in await backend.list_runs()] == ids[::-1]
    assert [r.id for r in await backend.list_runs(integration="a")] == [ids[3], ids[2], ids[0]]
    assert [r.id for r in await backend.list_runs(outcome="failed")] == [ids[2], ids[1]]
    assert [r.id for r in await backend.list_runs(before=ids[2], limit=1)] == [ids[1]]
    assert await backend.run_count() == 4


async def test_last_finished_and_last_succeeded_runs_skip_unfinished_ones(
        backend: StoreContract) -> None:
    assert await backend.last_finished_run("a") is None
    ok = await finished_run(backend, "a", "succeeded")
    failed = await finished_run(backend, "a", "failed")
    await finished_run(backend, "a", "running")
    await finished_run(backend, "b", "succeeded")
    assert (await backend.last_finished_run("a") or pytest.fail()).id == failed
    assert (await backend.last_succeeded_run("a") or pytest.fail()).id == ok


async def test_unfinished_runs_are_interrupted_and_the_latest_per_integration_resumed(
        backend: StoreContract) -> None:
    older = await finished_run(backend, "a", "running")
    await finished_run(backend, "a", "succeeded")
    queued = await finished_run(backend, "b", "queued")
    running = await finished_run(backend, "c", "running")
    interrupted = await backend.interrupt_unfinished_runs(at=LATER)
    assert [(r.id, r.outcome) for r in interrupted] == [
        (older, "running"), (queued, "queued"), (running, "running")]
    assert [r.id for r in await backend.latest_interrupted_runs()] == [queued, running]
    detail = await backend.get_run(queued)
    assert detail is not None and detail.run.outcome == "interrupted" and detail.run.error


async def test_a_night_is_covered_only_by_a_scheduled_run_queued_since_then(
        backend: StoreContract) -> None:
    night = NOW - timedelta(hours=6)
    await finished_run(backend, "a", "succeeded", trigger="force", queued_at=NOW)
    await finished_run(backend, "b", "cancelled", trigger="nightly", queued_at=NOW)
    await finished_run(backend, "c", "failed", trigger="startup", queued_at=NOW)
    await finished_run(backend, "d", "succeeded", trigger="nightly",
                       queued_at=night - timedelta(seconds=1))
    assert [name for name in "abcd" if await backend.nightly_covered(name, night)] == ["c"]


async def test_a_healthy_store_answers_ping(backend: StoreContract) -> None:
    assert await backend.ping()


async def test_discovered_custom_fields_replace_the_entitys_last_findings(
        backend: StoreContract) -> None:
    await backend.save_custom_fields("acme", Entity.ASSET, {"rack": 4, "Old": 1, "Backup": 2},
                                     at=NOW)
    await backend.save_custom_fields("acme", Entity.CONTACT, {"VIP": 2}, at=NOW)
    assert list((await backend.custom_fields("acme"))["assets"]) == ["Backup", "Old", "rack"]
    await backend.save_custom_fields("acme", Entity.ASSET, {"rack": 5}, at=LATER)
    assert await backend.custom_fields("acme") == {"assets": {"rack": 5}, "contacts": {"VIP": 2}}
    assert await backend.custom_fields("other") == {}


async def test_a_created_run_is_readable_at_once_while_other_reads_keep_arriving(
        backend: StoreContract) -> None:
    """Reads overlapping back to back must not pin an old snapshot: a client that gets a
    run id from a Force Sync must find that run on its very next read."""
    import asyncio

    for n in range(50):
        await backend.create_run(f"i{n}", "nightly", "schedule", full=False, queued_at=NOW)
    stop = asyncio.Event()

    async def keep_reading() -> None:
        while not stop.is_set():
            await backend.list_runs(limit=50)

    readers = [asyncio.create_task(keep_reading()) for _ in range(8)]
    try:
        await asyncio.sleep(0.05)
        missing = []
        for n in range(100):
            run_id = await backend.create_run("acme", "force", "api", full=False, queued_at=NOW)
            if await backend.get_run(run_id) is None:
                missing.append(run_id)
    finally:
        stop.set()
        await asyncio.gather(*readers)
    assert missing == []


async def test_a_query_holding_a_nul_is_answered_and_pages_on(backend: StoreContract) -> None:
    """Query values come from URLs, where ``%00`` is valid; PostgreSQL text cannot hold a
    NUL, so a value holding one must not reach it as an error."""
    await backend.apply_page("acme", Entity.COMPANY, [company(i) for i in (1, 2, 3)], now=NOW)
    nul = "\x00"
    for text in (nul, f"Company{nul}"):  # SQLite's LIKE ends the pattern at the NUL
        found = await backend.entity_page("acme", Entity.COMPANY, EntityQuery(text=text))
        assert {row["psa_id"] for row in found.rows} <= {"1", "2", "3"}
        assert (await backend.company_page("acme", text=text, limit=10, offset=0)).total \
            == len(found.rows)
    assert (await backend.entity_page("acme", Entity.SITE, EntityQuery(company=nul))).rows == ()
    after = await backend.entity_page("acme", Entity.COMPANY, EntityQuery(after=f"1{nul}x"))
    assert [row["psa_id"] for row in after.rows] == ["2", "3"]
    assert [r["psa_id"] for r in (await backend.entity_page(
        "acme", Entity.COMPANY, EntityQuery(after=nul))).rows] == ["1", "2", "3"]
    assert await backend.record("acme", Entity.COMPANY, f"1{nul}") is None
    assert (await backend.company_names("acme", ["1", f"2{nul}"]))["1"] == "Company 1"


async def test_a_record_holding_a_nul_is_stored_and_stays_unchanged(
        backend: StoreContract) -> None:
    """A PSA may send a NUL inside a text field; PostgreSQL text cannot hold one (it keeps
    U+FFFD in its place), and the page must be stored on either backend all the same."""
    nul = "\x00"
    page = [company(1, f"Acme{nul}Ltd"), company(2)]
    first = await backend.apply_page("acme", Entity.COMPANY, page, now=NOW)
    assert first.created == 2
    stored = await backend.record("acme", Entity.COMPANY, "1")
    assert stored is not None
    assert stored["name"] in (f"Acme{nul}Ltd", "Acme\ufffdLtd")
    again = await backend.apply_page("acme", Entity.COMPANY, page, now=NOW)
    assert again.unchanged == 2
