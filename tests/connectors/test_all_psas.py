"""The sync core, proven once for every PSA: real engine, real SQLite file, simulator on loopback.

Each test runs for every PSA in the registry (the parametrize id is the kind),
over one small generated dataset that every simulator renders in its own wire
format. What ``test_sync_connectwise.py`` proves for ConnectWise holds here for
all five: exact live counts per entity, only the selected custom fields, an
idempotent second sync, upstream changes as updated / created / soft-deleted
rows, incremental fetches where the connector declares them, read-only live
tickets, Retry-After, token renewal mid-sync and a malformed record rejected
alone. One daemon-level test runs ``psad demo``'s config with all five.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import store_snapshot
from psad.connectors import registry
from psad.connectors.base import Connector
from psad.engine import RunReport
from psad.errors import PsaNotFound
from psad.model import Entity, TicketQuery
from psad.simulators import LoggedRequest
from psad.simulators import halo as halo_sim
from psad.simulators import kaseya_bms as bms_sim
from psad.simulators.dataset import Dataset
from psad.simulators.serve import SIMULATORS
from psad.store import EntityResult
import sim_harness
from sim_harness import HarnessMaker, Sim, connect_kind

KINDS = registry.KINDS
ASSET_FIELDS = ("Backup", "Rack")
CONTACT_FIELDS = ("VIP",)
PAGE_SIZE = 20
RETRY_AFTER = 0.2


def small_dataset() -> Dataset:
    return Dataset.generate(11, companies=8, sites_per_company=2, assets=60, contacts=30,
                            tickets=30)


# --- how many live rows each PSA exposes, per entity ----------------------------------------
#
# As many as the dataset holds, except where the registry says the vendor has no
# such entity and psad synthesizes it: an int is a fixed count, PER_COMPANY one row
# per company, PER_STATUS_NAME one global status per distinct ticket-status name (the
# dataset repeats each name on every board).


def expected_count(kind: str, entity: Entity, ds: Dataset) -> int:
    rule = registry.BY_KIND[kind].rows_of(entity)
    if isinstance(rule, int):
        return rule
    if rule == registry.PER_COMPANY:
        return ds.count("companies")
    if rule == registry.PER_STATUS_NAME:
        return len({s.name for s in ds.records("ticket_statuses")})
    return ds.count(entity.value)


INCREMENTAL_KINDS = tuple(p.kind for p in registry.PSAS if p.incremental)
FULL_ONLY_KINDS = tuple(p.kind for p in registry.PSAS if not p.incremental)
TOKEN_KINDS = tuple(p.kind for p in registry.PSAS if p.token_expires)


def kinds(selected: Iterable[str] = KINDS, *, xfail: dict[str, str] | None = None) -> list[Any]:
    """``selected`` kinds as indirect ``psa`` params; ``xfail`` marks known bugs strictly."""
    marks = xfail or {}
    return [pytest.param(kind, id=kind, marks=[pytest.mark.xfail(strict=True, reason=marks[kind])]
                         if kind in marks else []) for kind in selected]


# --- harness -----------------------------------------------------------------------------------


@dataclass
class Psa(sim_harness.Harness[Sim, Connector]):
    kind: str = ""

    @property
    def db(self) -> Path:
        return Path(self.store.path)

    async def assert_complete(self, *, missing: dict[Entity, set[str]] | None = None) -> None:
        """Every entity holds exactly the live rows the vendor exposes (minus ``missing``)."""
        gone = missing or {}
        for entity in Entity:
            rows = await self.rows(entity)
            want = expected_count(self.kind, entity, self.ds) - len(gone.get(entity, ()))
            assert len(rows) == want, (self.kind, entity, len(rows), want)
            assert not gone.get(entity, set()) & rows.keys(), entity
        for entity in (Entity.COMPANY, Entity.SITE, Entity.ASSET, Entity.CONTACT):
            source = entity.value  # ids are the dataset's; a synthesized site has its company's
            if registry.BY_KIND[self.kind].rows_of(entity) == registry.PER_COMPANY:
                source = "companies"
            want_ids = {str(i) for i in self.ds.ids(source)} - gone.get(entity, set())
            assert (await self.rows(entity)).keys() == want_ids, entity


def results(report: RunReport) -> dict[Entity, EntityResult]:
    return {r.entity: r for r in report.entities}


def changes(result: EntityResult) -> tuple[int, int, int]:
    return result.created, result.updated, result.deleted


@pytest.fixture
async def psa(request: pytest.FixtureRequest, open_harness: HarnessMaker) -> Psa:
    kind: str = request.param
    spec = SIMULATORS[registry.BY_KIND[kind].simulator]
    connect = connect_kind(kind, max_retries=3, page_size=PAGE_SIZE, asset_fields=ASSET_FIELDS,
                           contact_fields=CONTACT_FIELDS)
    made: Psa = await open_harness(spec.create(small_dataset()), spec.api_path, connect,
                                   harness=Psa)
    made.kind = kind
    return made


# --- 1. full sync -------------------------------------------------------------------------------


@pytest.mark.parametrize("psa", kinds(), indirect=True)
async def test_full_sync_stores_every_record_the_psa_exposes_with_only_selected_custom_fields(
        psa: Psa) -> None:
    report = await psa.sync()
    assert report.outcome == "succeeded", report.error
    assert [r.entity for r in report.entities] == list(Entity)
    for entity, result in results(report).items():
        want = expected_count(psa.kind, entity, psa.ds)
        assert (result.fetched, result.created, result.rejected) == (want, want, 0), entity
    await psa.assert_complete()
    assets, contacts = await psa.rows(Entity.ASSET), await psa.rows(Entity.CONTACT)
    for asset in assets.values():
        assert set(asset["custom_fields"]) == set(ASSET_FIELDS), asset["psa_id"]
    for contact in contacts.values():
        assert set(contact["custom_fields"]) == set(CONTACT_FIELDS), contact["psa_id"]
    assert all(c["custom_fields"]["VIP"] is not None for c in contacts.values())
    racks = {pid: a["custom_fields"]["Rack"] for pid, a in assets.items()}  # text everywhere
    if not registry.BY_KIND[psa.kind].asset_custom_fields:  # all null
        assert set(racks.values()) == {None}
    else:
        assert racks == {str(a.id): a.custom_fields["Rack"] for a in psa.ds.records("assets")}
        assert any(racks.values())


# --- 2. idempotence -----------------------------------------------------------------------------


@pytest.mark.parametrize("psa", kinds(), indirect=True)
async def test_second_sync_without_upstream_changes_changes_nothing(psa: Psa) -> None:
    assert (await psa.sync()).outcome == "succeeded"
    before = await store_snapshot(psa.store)
    again = await psa.sync()
    full = await psa.sync(full=True)
    for report in (again, full):
        assert report.outcome == "succeeded", report.error
        for result in report.entities:
            assert changes(result) == (0, 0, 0), (result.entity, result.mode)
    for result in full.entities:
        assert result.mode == "full"
        assert result.unchanged == result.fetched == expected_count(psa.kind, result.entity,
                                                                    psa.ds), result.entity
    assert await store_snapshot(psa.store) == before  # no row was rewritten
    await psa.assert_complete()


# --- 3. upstream changes ------------------------------------------------------------------------


@pytest.mark.parametrize("psa", kinds(), indirect=True)
async def test_upstream_updates_additions_and_deletions_become_updated_created_and_soft_deleted(
        psa: Psa) -> None:
    ds = psa.ds
    assert (await psa.sync()).outcome == "succeeded"
    companies, assets, contacts = (list(ds.ids(e)) for e in ("companies", "assets", "contacts"))
    keep, renamed, doomed = companies[0], companies[2], companies[-1]
    # a company goes with everything hanging off it, as the PSA would refuse otherwise
    doomed_sites = [i for i in ds.ids("sites") if ds.sites[i].company_id == doomed]
    doomed_assets = [i for i in assets if ds.assets[i].company_id == doomed]
    doomed_contacts = [i for i in contacts if ds.contacts[i].company_id == doomed]
    assert doomed_sites and doomed_assets and doomed_contacts  # the dataset gives it children
    gone_asset = next(i for i in assets if ds.assets[i].company_id != doomed)
    gone_contact = next(i for i in contacts if ds.contacts[i].company_id != doomed)
    changed_asset = next(i for i in reversed(assets) if ds.assets[i].company_id != doomed)
    changed_contact = next(i for i in reversed(contacts) if ds.contacts[i].company_id != doomed)

    ds.update("assets", changed_asset, serial_number="NEW-SN-0001")
    ds.update("contacts", changed_contact, title="Chief Everything")
    ds.update("companies", renamed, name="Renamed Ltd")
    new_asset = ds.add("assets", company_id=keep, name="NEW-PC-00001", status="Active",
                       type="Workstation", manufacturer="Dell", serial_number="SN-NEW-1")
    new_contact = ds.add("contacts", company_id=keep, first_name="Nia", last_name="Obi",
                         title="Director", email="nia.obi@example.com", type="Technical")
    template = ds.companies[keep]
    new_company = ds.add("companies", identifier="NewCoLtd", name="NewCo Ltd",
                         website="www.newco.example", status_id=template.status_id,
                         type_ids=list(template.type_ids), line1="1 New St", city="Leeds",
                         region="West Yorkshire", postal_code="LS1 1AA",
                         country="United Kingdom")
    ds.delete("assets", gone_asset)
    ds.delete("contacts", gone_contact)
    for site_id in doomed_sites:
        ds.delete("sites", site_id)
    for asset_id in doomed_assets:
        ds.delete("assets", asset_id)
    for contact_id in doomed_contacts:
        ds.delete("contacts", contact_id)
    ds.delete("companies", doomed)

    report = await psa.sync()
    assert report.outcome == "succeeded", report.error
    got = {entity: changes(result) for entity, result in results(report).items()}
    synthesized_sites = registry.BY_KIND[psa.kind].rows_of(Entity.SITE) == registry.PER_COMPANY
    want = {entity: (0, 0, 0) for entity in Entity}
    want[Entity.COMPANY] = (1, 1, 1)
    want[Entity.SITE] = (1, 0, 1) if synthesized_sites else (0, 0, len(doomed_sites))
    want[Entity.ASSET] = (1, 1, 1 + len(doomed_assets))
    want[Entity.CONTACT] = (1, 1, 1 + len(doomed_contacts))
    assert got == want

    every = {e: await psa.rows(e, live=False) for e in (Entity.COMPANY, Entity.ASSET,
                                                         Entity.CONTACT, Entity.SITE)}
    assert every[Entity.ASSET][str(changed_asset)]["serial_number"] == "NEW-SN-0001"
    assert every[Entity.CONTACT][str(changed_contact)]["title"] == "Chief Everything"
    assert every[Entity.COMPANY][str(renamed)]["name"] == "Renamed Ltd"
    assert every[Entity.ASSET][str(new_asset.id)]["name"] == "NEW-PC-00001"
    assert every[Entity.ASSET][str(new_asset.id)]["deleted_at"] is None
    assert (every[Entity.CONTACT][str(new_contact.id)]["first_name"],
            every[Entity.CONTACT][str(new_contact.id)]["last_name"]) == ("Nia", "Obi")
    assert every[Entity.COMPANY][str(new_company.id)]["name"] == "NewCo Ltd"
    soft_deleted = {
        Entity.COMPANY: {str(doomed)},
        Entity.ASSET: {str(i) for i in (gone_asset, *doomed_assets)},
        Entity.CONTACT: {str(i) for i in (gone_contact, *doomed_contacts)},
        Entity.SITE: {str(doomed)} if synthesized_sites else {str(i) for i in doomed_sites},
    }
    for entity, ids in soft_deleted.items():
        for psa_id in ids:  # the row is kept, marked deleted
            assert every[entity][psa_id]["deleted_at"] is not None, (entity, psa_id)
        live = {pid for pid, row in every[entity].items() if row["deleted_at"] is None}
        assert not ids & live, entity
    await psa.assert_complete()


# --- 4. incremental -----------------------------------------------------------------------------


CHANGE = {  # one harmless change per incremental-capable entity
    Entity.COMPANY: ("companies", {"name": "Changed Co Ltd"}),
    Entity.SITE: ("sites", {"name": "Changed Site"}),
    Entity.ASSET: ("assets", {"serial_number": "CHANGED-SN"}),
    Entity.CONTACT: ("contacts", {"title": "Chief Everything"}),
}


@pytest.mark.parametrize("psa", kinds(INCREMENTAL_KINDS), indirect=True)
async def test_incremental_sync_fetches_only_the_changed_record_of_each_incremental_entity(
        psa: Psa) -> None:
    incremental = type(psa.connector).incremental
    assert incremental <= CHANGE.keys(), "a new incremental entity needs a CHANGE entry"
    assert (await psa.sync()).outcome == "succeeded"
    changed: dict[Entity, str] = {}
    for entity in incremental:
        table, values = CHANGE[entity]
        record_id = psa.ds.ids(table)[3]
        psa.ds.update(table, record_id, **values)
        changed[entity] = str(record_id)
    report = await psa.sync()
    assert report.outcome == "succeeded", report.error
    for entity, result in results(report).items():
        if entity in incremental:
            assert result.mode == "incremental", entity
            assert (result.fetched, result.updated, result.created, result.deleted) == \
                (1, 1, 0, 0), entity
        else:
            assert result.mode == "full", entity
            assert result.fetched == expected_count(psa.kind, entity, psa.ds), entity
            assert changes(result) == (0, 0, 0), entity
    rows = {e: await psa.rows(e) for e in changed}
    for entity, psa_id in changed.items():
        field, value = next(iter(CHANGE[entity][1].items()))
        assert rows[entity][psa_id][field] == value, entity
    await psa.assert_complete()


@pytest.mark.parametrize("psa", kinds(FULL_ONLY_KINDS), indirect=True)
async def test_sync_without_incremental_support_runs_full_and_picks_up_the_change(
        psa: Psa) -> None:
    assert type(psa.connector).incremental == frozenset()
    assert (await psa.sync()).outcome == "succeeded"
    contact_id = psa.ds.ids("contacts")[3]
    psa.ds.update("contacts", contact_id, title="Chief Everything")
    report = await psa.sync()
    assert report.outcome == "succeeded", report.error
    for entity, result in results(report).items():
        assert result.mode == "full", entity
        assert result.fetched == expected_count(psa.kind, entity, psa.ds), entity
        want = (0, 1, 0) if entity is Entity.CONTACT else (0, 0, 0)
        assert changes(result) == want, entity
    assert (await psa.rows(Entity.CONTACT))[str(contact_id)]["title"] == "Chief Everything"
    await psa.assert_complete()


# --- 5. live tickets ----------------------------------------------------------------------------


def db_bytes(db: Path) -> dict[str, bytes | None]:
    files = (db, db.with_name(db.name + "-wal"))
    return {f.name: f.read_bytes() if f.exists() else None for f in files}


@pytest.mark.sqlite_only("proves nothing is written by the SQLite file's bytes")
@pytest.mark.parametrize("psa", kinds(), indirect=True)
async def test_live_tickets_list_page_filter_by_board_and_get_without_touching_the_database(
        psa: Psa) -> None:
    ds, connector = psa.ds, psa.connector
    assert (await psa.sync()).outcome == "succeeded"
    boards = await psa.rows(Entity.BOARD)
    before = db_bytes(psa.db)
    assert before[psa.db.name]

    first = await connector.list_tickets(TicketQuery(page=1, page_size=10))
    second = await connector.list_tickets(TicketQuery(page=2, page_size=10))
    last = await connector.list_tickets(TicketQuery(page=3, page_size=10))
    assert (len(first.tickets), len(second.tickets), len(last.tickets)) == (10, 10, 10)
    assert (first.has_more, second.has_more, last.has_more) == (True, True, False)
    pages = [[t.psa_id for t in p.tickets] for p in (first, second, last)]
    assert not set(pages[0]) & set(pages[1])
    assert sorted(int(i) for page in pages for i in page) == list(ds.ids("tickets"))

    for board_id, board in boards.items():
        page = await connector.list_tickets(TicketQuery(board=board_id, page_size=100))
        want = {str(t.id) for t in ds.records("tickets")
                if ds.boards[t.board_id].name == board["name"]}
        assert want, board["name"]
        assert {t.psa_id for t in page.tickets} == want, board["name"]
        assert {t.board for t in page.tickets} == {board["name"]}

    sample = ds.records("tickets")[4]
    ticket = await connector.get_ticket(str(sample.id))
    assert (ticket.psa_id, ticket.summary, ticket.closed) == (str(sample.id), sample.summary,
                                                              sample.closed)
    assert ticket.board == ds.boards[sample.board_id].name
    with pytest.raises(PsaNotFound):
        await connector.get_ticket("999999")

    assert db_bytes(psa.db) == before  # live tickets are never stored


# --- 6. rate limiting ---------------------------------------------------------------------------


@pytest.mark.parametrize("psa", kinds(), indirect=True)
async def test_429_with_retry_after_on_companies_is_waited_out_and_the_request_repeated(
        psa: Psa) -> None:
    prefix = registry.BY_KIND[psa.kind].companies_path  # the fault matches under it

    def key(r: LoggedRequest) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return r.method, r.path, tuple(sorted(r.query.items()))

    def calls_under_prefix() -> Counter[tuple[str, str, tuple[tuple[str, str], ...]]]:
        return Counter(key(r) for r in psa.requests() if r.path.startswith(prefix))

    psa.sim.faults.status(prefix, 429, retry_after=RETRY_AFTER, count=1)
    started = time.monotonic()
    report = await psa.sync()
    elapsed = time.monotonic() - started
    assert report.outcome == "succeeded", report.error
    assert [(t.kind, t.path.startswith(prefix)) for t in psa.sim.faults.triggered] == [
        ("status", True)]  # the 429 was served, once
    assert elapsed >= RETRY_AFTER  # waited out (the simulator even rounds it up to 1 s)
    await psa.assert_complete()
    refused = key(next(r for r in psa.requests() if r.path.startswith(prefix)))
    throttled = calls_under_prefix()

    psa.clear_requests()  # the same full pass, unthrottled, as the baseline
    assert (await psa.sync(full=True)).outcome == "succeeded"
    # exactly one request more than a clean pass: the refused one, asked again
    baseline = calls_under_prefix()
    assert throttled - baseline == Counter({refused: 1}) and not baseline - throttled


# --- 7. token renewal mid-sync ------------------------------------------------------------------


def moved(clock: Callable[[], float], seconds: float) -> Callable[[], float]:
    return lambda: clock() + seconds


def expire_tokens(psa: Psa, how: str) -> None:
    """Make every token the simulator issued so far unusable, as the vendor would."""
    if psa.kind == "halo":
        halo = psa.sim.app[halo_sim.STATE_KEY]
        if how == "revoked":
            halo.revoke_all()
        else:  # the simulator's clock passes the token's lifetime
            halo.clock = moved(halo.clock, halo.token_lifetime + 1)
    else:
        bms = psa.sim.app[bms_sim.STATE_KEY]
        if how == "revoked":
            bms.revoke_all()
        else:
            bms.clock = moved(bms.clock, bms.config.token_lifetime + 1)


def tokens_issued(psa: Psa) -> int:
    if psa.kind == "halo":
        return len(psa.sim.app[halo_sim.STATE_KEY].token_requests)
    return psa.sim.app[bms_sim.STATE_KEY].issued


@pytest.mark.parametrize("how", ["expired", "revoked"])
@pytest.mark.parametrize("psa", kinds(TOKEN_KINDS), indirect=True)
async def test_token_expiring_mid_sync_is_renewed_and_the_sync_succeeds(psa: Psa,
                                                                        how: str) -> None:
    fetch: Callable[..., AsyncIterator[Any]] = psa.connector.fetch
    expired = asyncio.Event()

    async def expire_after_first_company_page(entity: Entity, *, since: Any = None
                                              ) -> AsyncIterator[Any]:
        async for page in fetch(entity, since=since):
            yield page
            if entity is Entity.COMPANY and not expired.is_set():
                expire_tokens(psa, how)
                expired.set()

    psa.connector.fetch = expire_after_first_company_page  # type: ignore[method-assign]
    report = await psa.sync()
    assert expired.is_set()
    assert report.outcome == "succeeded", report.error
    assert tokens_issued(psa) == 2  # signed in, then renewed once mid-sync
    await psa.assert_complete()


# --- 8. a malformed record ----------------------------------------------------------------------


@pytest.mark.parametrize("psa", kinds(), indirect=True)
async def test_malformed_asset_is_rejected_alone_and_everything_else_is_stored(psa: Psa) -> None:
    bad = psa.ds.ids("assets")[7]
    field, value = registry.BY_KIND[psa.kind].bad_asset_name
    psa.ds.corrupt("assets", bad, field, value)
    report = await psa.sync()
    assert report.outcome == "partial", report.error
    by_entity = results(report)
    assets = by_entity[Entity.ASSET]
    count = psa.ds.count("assets")
    assert (assets.fetched, assets.rejected, assets.created) == (count, 1, count - 1)
    assert all(r.rejected == 0 for e, r in by_entity.items() if e is not Entity.ASSET)
    run = (await psa.store.get_run(report.run_id)).to_json()
    assert run is not None
    assert [(e["entity"], e["psa_id"]) for e in run["errors"]] == [("assets", str(bad))]
    await psa.assert_complete(missing={Entity.ASSET: {str(bad)}})


# --- the daemon with psad demo's config -------------------------------------------------------


async def test_demo_config_with_all_five_psas_syncs_each_at_start_up_and_serves_tickets(
        tmp_path: Path, aiohttp_client: Any) -> None:
    from prometheus_client import CollectorRegistry

    from conftest import TOKEN
    from psad.demo import start_demo
    from psad.metrics import Metrics
    from psad.runtime import Runtime
    from psad.web.app import create_app

    demo = await start_demo(tmp_path / "demo", port=0, token=TOKEN, companies=8, assets=60,
                            contacts=30)
    try:
        assert [s.spec.kind for s in demo.simulators] == list(KINDS)
        runtime = Runtime(demo.config, Metrics(CollectorRegistry()))
        client = await aiohttp_client(create_app(runtime))
        auth = {"Authorization": f"Bearer {TOKEN}"}
        names = [i.name for i in demo.config.integrations]
        assert sorted(i.kind for i in demo.config.integrations) == sorted(KINDS)
        runs: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listed = await (await client.get("/api/runs?limit=50", headers=auth)).json()
            runs = {r["integration"]: r for r in listed["runs"]}
            if len(runs) == len(names) and all(
                    r["outcome"] not in ("queued", "running") for r in runs.values()):
                break
            await asyncio.sleep(0.05)
        assert sorted(runs) == sorted(names)
        assert {n: (r["trigger"], r["outcome"]) for n, r in runs.items()} == {
            n: ("startup", "succeeded") for n in names}
        for name in names:
            resp = await client.get(f"/api/integrations/{name}/tickets?page_size=5",
                                    headers=auth)
            assert resp.status == 200, (name, await resp.text())
            body = await resp.json()
            assert len(body["tickets"]) == 5, name
    finally:
        await demo.stop()


# --- live progress ------------------------------------------------------------------------------


NO_TOTAL = {("kaseya_bms", Entity.ASSET)}
"""Lists whose PSA does not say how long they are (BMS ``searchselect`` has no totalRecords)."""


@pytest.mark.parametrize("psa", kinds(), indirect=True)
async def test_every_psa_tells_the_live_progress_how_many_records_a_list_holds(psa: Psa) -> None:
    from psad.progress import RunProgress

    progress = RunProgress()
    run_id = await psa.store.create_run("acme", "manual", "test", full=True,
                                        queued_at=psa.engine.clock())
    report = await psa.engine.run(run_id, psa.connector, full=True, progress=progress)
    assert report.outcome == "succeeded", report.error
    assert list(progress.entities) and all(p.done for p in progress.entities.values())
    for entity in (Entity.COMPANY, Entity.CONTACT, Entity.ASSET):
        part = progress.entities[entity.value]
        want = len(psa.ds.ids(entity.value))
        assert (part.fetched, part.written, part.rejected) == (want, want, 0), entity
        assert part.total == (None if (psa.kind, entity) in NO_TOTAL else want), entity
        assert part.pages >= 1, entity
    summary = progress.as_dict()
    assert summary["percent"] == 100.0
    assert summary["entities_done"] == summary["entities_total"] == len(Entity)


# --- custom fields the PSA offers ------------------------------------------------------------


NO_CUSTOM_FIELDS = {("kaseya_bms", "assets")}
"""BMS hardware assets carry no custom fields."""


@pytest.mark.parametrize("psa", kinds(), indirect=True)
async def test_a_full_sync_records_every_custom_field_the_psa_offers_and_how_often(
        psa: Psa) -> None:
    await psa.sync(full=True)
    found = await psa.store.custom_fields("acme")
    for entity in ("assets", "contacts"):
        records = psa.ds.records(entity)
        names = {name for r in records for name in r.custom_fields}
        want = {name: sum(r.custom_fields.get(name) not in (None, "") for r in records)
                for name in names}
        if (psa.kind, entity) in NO_CUSTOM_FIELDS:
            assert entity not in found
            continue
        # every field, selected or not, with the records that carry a value in it
        assert want.items() <= found[entity].items(), (entity, found.get(entity))
