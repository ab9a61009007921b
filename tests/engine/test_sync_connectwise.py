"""The sync core against the ConnectWise simulator on loopback, with a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from conftest import run_sync
from psad.config import CompanyFilter, IntegrationConfig
from psad.connectors.connectwise import ConnectWiseConnector
from psad.http import PsaClient, RetryPolicy
from psad.model import Entity
from psad.simulators.dataset import DELETE, Dataset
from psad.simulators.serve import CONNECTWISE
from sim_harness import Harness as SimHarness
from sim_harness import HarnessMaker, Sim

ASSET_FIELDS = ("Backup", "Last Audit")
CONFIGURATIONS = "/v4_6_release/apis/3.0/company/configurations"
CONTACT_FIELDS = ("VIP",)


Harness = SimHarness[Sim, ConnectWiseConnector]


def integration_for(sim: Sim, **overrides: Any) -> IntegrationConfig:
    base = IntegrationConfig(
        name="acme", kind="connectwise", base_url=sim.base_url,
        settings=dict(CONNECTWISE.settings), asset_custom_fields=ASSET_FIELDS,
        contact_custom_fields=CONTACT_FIELDS, page_size=40)
    return replace(base, **overrides)


def connect(sim: Sim, session: aiohttp.ClientSession) -> ConnectWiseConnector:
    client = PsaClient(session, "acme", policy=RetryPolicy(max_retries=2, backoff_base=0.01),
                       timeout=5)
    return ConnectWiseConnector(integration_for(sim), client, dict(CONNECTWISE.secrets))


@pytest.fixture
async def harness(open_harness: HarnessMaker) -> Harness:
    dataset = Dataset.generate(3, companies=12, sites_per_company=2, assets=150, contacts=60,
                               tickets=30)
    made: Harness = await open_harness(CONNECTWISE.create(dataset), CONNECTWISE.api_path, connect)
    return made


def expected(ds: Dataset, entity: Entity, asset_fields: tuple[str, ...] = ASSET_FIELDS,
             contact_fields: tuple[str, ...] = CONTACT_FIELDS) -> dict[str, dict[str, Any]]:
    """What psad must store for each entity, straight from the simulator's dataset."""
    def address(r: Any, region: str | None) -> dict[str, Any]:
        return {"line1": r.line1, "line2": r.line2, "city": r.city, "region": region,
                "postal_code": r.postal_code, "country": r.country}

    def custom(values: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
        return {n: values[n].isoformat() if isinstance(values.get(n), date) else values.get(n)
                for n in names}

    statuses = {s.id: s.name for s in ds.records("company_statuses")}
    types = {t.id: t.name for t in ds.records("company_types")}
    out: dict[Entity, Any] = {
        Entity.COMPANY_STATUS: lambda s: {"name": s.name, "is_default": s.is_default},
        Entity.COMPANY: lambda c: {"name": c.name, "website": c.website,
                                   "status": statuses.get(c.status_id),
                                   "types": [types[t] for t in c.type_ids]},
        Entity.SITE: lambda s: {"company_psa_id": str(s.company_id), "name": s.name,
                                "active": s.active, "primary": s.primary,
                                "address": address(s, s.region)},
        Entity.ASSET: lambda a: {
            "company_psa_id": str(a.company_id) if a.company_id else None, "name": a.name,
            "status": a.status, "type": a.type,
            "purchase_date": a.purchase_date.isoformat() if a.purchase_date else None,
            "warranty_expiration": a.warranty_expiration.isoformat()
            if a.warranty_expiration else None,
            "serial_number": a.serial_number, "os_type": a.os_type, "notes": a.notes,
            "manufacturer": a.manufacturer, "custom_fields": custom(a.custom_fields, asset_fields)},
        Entity.CONTACT: lambda c: {
            "company_psa_id": str(c.company_id) if c.company_id else None,
            "first_name": c.first_name, "last_name": c.last_name, "type": c.type,
            "title": c.title, "email": c.email, "phone": c.phone,
            "address": address(c, c.region), "active": c.active,
            "custom_fields": custom(c.custom_fields, contact_fields)},
        Entity.BOARD: lambda b: {"name": b.name, "active": b.active},
        Entity.PRIORITY: lambda p: {"name": p.name, "sort_order": p.sort_order},
        Entity.TICKET_STATUS: lambda s: {"name": s.name, "board_psa_id": str(s.board_id),
                                         "closed": s.closed, "sort_order": s.sort_order},
    }
    return {str(r.id): out[entity](r) for r in ds.records(entity.value)}


def stored(rows: dict[str, dict[str, Any]], keys: list[str]) -> dict[str, dict[str, Any]]:
    return {pid: {k: row[k] for k in keys} for pid, row in rows.items()}


async def test_full_sync_stores_exactly_the_psa_data_field_by_field(harness: Harness) -> None:
    report = await harness.sync()
    assert report.outcome == "succeeded", report.error
    for entity in Entity:
        want = expected(harness.ds, entity)
        got = stored(await harness.rows(entity), list(next(iter(want.values()))))
        assert got == want, entity
    asset = next(iter((await harness.rows(Entity.ASSET)).values()))
    assert set(asset["custom_fields"]) == set(ASSET_FIELDS)  # only the selected ones


async def test_upstream_changes_are_updated_created_and_soft_deleted(harness: Harness) -> None:
    await harness.sync()
    ds = harness.ds
    asset_ids = list(ds.ids("assets"))
    ds.update("assets", asset_ids[0], notes="moved to rack 9", serial_number="NEW-SN")
    added = ds.add("assets", company_id=ds.ids("companies")[0], name="NEW-PC", status="Active",
                   type="Workstation")
    ds.delete("assets", asset_ids[1])
    ds.update("companies", ds.ids("companies")[2], name="Renamed Ltd")
    report = await harness.sync()
    by_entity = {r.entity: r for r in report.entities}
    assets = by_entity[Entity.ASSET]
    assert (assets.created, assets.updated, assets.deleted) == (1, 1, 1)
    assert by_entity[Entity.COMPANY].updated == 1
    rows = await harness.rows(Entity.ASSET, live=False)
    assert rows[str(asset_ids[0])]["notes"] == "moved to rack 9"
    assert rows[str(added.id)]["name"] == "NEW-PC"
    assert rows[str(asset_ids[1])]["deleted_at"] is not None  # kept, marked deleted
    live = await harness.rows(Entity.ASSET)
    assert str(asset_ids[1]) not in live and len(live) == ds.count("assets")


async def test_incremental_sync_fetches_only_what_changed(harness: Harness) -> None:
    await harness.sync()
    ds = harness.ds
    ds.update("contacts", ds.ids("contacts")[5], title="Chief Everything")
    harness.clear_requests()
    report = await harness.sync()
    contacts = next(r for r in report.entities if r.entity is Entity.CONTACT)
    assert contacts.mode == "incremental" and contacts.fetched == 1 and contacts.updated == 1
    assert contacts.requests == 2  # one changed-since page, one count (nothing deleted)
    contact_calls = [r for r in harness.requests() if r.path.endswith("/company/contacts")]
    assert any("lastUpdated>[" in r.query.get("conditions", "") for r in contact_calls)
    assert not any(r.query.get("fields") == "id" for r in contact_calls)
    assert any(r.path.endswith("/company/contacts/count") for r in harness.requests())
    assets = next(r for r in report.entities if r.entity is Entity.ASSET)
    assert assets.fetched == 0 and assets.mode == "incremental"


async def test_requests_carry_connectwise_auth_and_the_largest_page_size(tmp_path: Path,
                                                                          harness: Harness) -> None:
    harness.connector.page_size = 1000
    harness.clear_requests()
    await harness.sync(full=True)
    calls = harness.requests()
    assert calls and all(r.headers.get("clientId") == CONNECTWISE.settings["client_id"]
                         for r in calls)
    assert all(r.headers["Authorization"].startswith("Basic ") for r in calls)
    lists = [r for r in calls if r.path.endswith("/company/configurations")]
    assert lists[0].query["pageSize"] == "1000"
    assert lists[0].path.startswith("/v4_6_release/apis/3.0/")


async def test_failure_mid_sync_keeps_earlier_pages_and_cursors(harness: Harness) -> None:
    await harness.sync()
    cursor_before = (await harness.store.entity_state("acme", Entity.ASSET)).cursor
    ds = harness.ds
    for asset_id in list(ds.ids("assets"))[:100]:
        ds.update("assets", asset_id, notes="second pass")
    real_fetch = harness.connector.fetch

    async def fail_after_first_asset_page(entity: Entity, *, since: Any = None
                                          ) -> AsyncIterator[Any]:
        async for page in real_fetch(entity, since=since):
            yield page
            if entity is Entity.ASSET:
                harness.sim.faults.status(CONFIGURATIONS, 500, count=None)

    harness.connector.fetch = fail_after_first_asset_page  # type: ignore[method-assign]
    report = await harness.sync(full=True)
    assert report.outcome == "failed"
    run = (await harness.store.get_run(report.run_id)).to_json()
    assert run and run["outcome"] == "failed"
    assert any("HTTP 500" in e["message"] for e in run["errors"])
    rows = await harness.rows(Entity.ASSET)
    written = [r for r in rows.values() if r["notes"] == "second pass"]
    assert 0 < len(written) < 100  # the first page is committed, the rest is not
    after = await harness.store.entity_state("acme", Entity.ASSET)
    assert after.cursor == cursor_before  # the cursor did not move
    assert rows.keys() == {str(i) for i in ds.ids("assets")}  # nothing swept on failure


async def test_an_internal_error_stops_the_other_entities_before_the_run_ends(
        harness: Harness) -> None:
    real_fetch = harness.connector.fetch
    assets_waiting = asyncio.Event()
    assets_cancelled = asyncio.Event()

    async def broken_or_slow(entity: Entity, *, since: Any = None) -> AsyncIterator[Any]:
        if entity is Entity.SITE:
            await assets_waiting.wait()
            raise RuntimeError("bug in a parser")
        async for page in real_fetch(entity, since=since):
            yield page
        if entity is Entity.ASSET:
            assets_waiting.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                assets_cancelled.set()
                raise

    harness.connector.fetch = broken_or_slow  # type: ignore[method-assign]
    report = await asyncio.wait_for(harness.sync(full=True), 10)
    assert report.outcome == "failed"
    assert report.error == "internal error: RuntimeError: bug in a parser"
    assert assets_cancelled.is_set()  # the other lane was stopped, not left running
    run = (await harness.store.get_run(report.run_id)).to_json()
    assert run and run["outcome"] == "failed" and run["finished_at"]
    assert (await harness.store.entity_state("acme", Entity.ASSET)).cursor is None


async def test_mass_delete_guard_refuses_and_logs(harness: Harness,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    await harness.sync()
    ds = harness.ds
    for asset_id in list(ds.ids("assets"))[:100]:
        ds.delete("assets", asset_id)
    report = await harness.sync()
    assets = next(r for r in report.entities if r.entity is Entity.ASSET)
    assert assets.deleted == 0 and assets.note and "refused" in assets.note
    assert report.outcome == "partial"
    assert len(await harness.rows(Entity.ASSET)) == 150
    assert "deletion sweep refused" in caplog.text
    run = (await harness.store.get_run(report.run_id)).to_json()
    assert any("refused" in e["message"] for e in run["errors"])


async def test_malformed_record_is_rejected_alone(harness: Harness) -> None:
    ds = harness.ds
    bad_asset, bad_contact = ds.ids("assets")[7], ds.ids("contacts")[3]
    ds.corrupt("assets", bad_asset, "name", None)
    ds.corrupt("contacts", bad_contact, "purchaseDate", "x")  # unused field: still fine
    ds.corrupt("contacts", bad_contact, "inactiveFlag", "maybe")
    report = await harness.sync()
    assert report.outcome == "partial"
    assets = next(r for r in report.entities if r.entity is Entity.ASSET)
    assert assets.rejected == 1 and assets.created == 149
    run = (await harness.store.get_run(report.run_id)).to_json()
    reasons = {(e["entity"], e["psa_id"]): e["message"] for e in run["errors"]}
    assert "name" in reasons[("assets", str(bad_asset))]
    assert "inactiveFlag" in reasons[("contacts", str(bad_contact))]
    # a rejected record already stored is neither deleted nor advanced past
    ds.clear_corruption()
    await harness.sync()
    ds.corrupt("assets", bad_asset, "name", DELETE)
    again = await harness.sync(full=True)
    assert (await harness.rows(Entity.ASSET))[str(bad_asset)]["deleted_at"] is None
    assert next(r for r in again.entities if r.entity is Entity.ASSET).deleted == 0


async def test_companies_outside_the_filter_are_marked_out_of_scope_with_children(
        harness: Harness) -> None:
    ds = harness.ds
    statuses = {s.id: s.name for s in ds.records("company_statuses")}
    keep = statuses[ds.records("companies")[0].status_id]
    harness.connector.integration = replace(harness.connector.integration,
                                            company_filter=CompanyFilter(statuses=(keep,)))
    report = await harness.sync()
    assert report.outcome == "succeeded"
    companies = await harness.rows(Entity.COMPANY)
    outside = {pid for pid, c in companies.items() if c["status"] != keep}
    assert outside and all(companies[pid]["out_of_scope"] for pid in outside)
    sites = await harness.rows(Entity.SITE)
    assert {pid for pid, s in sites.items() if s["out_of_scope"]} == {
        pid for pid, s in sites.items() if s["company_psa_id"] in outside}
    assert len(companies) == ds.count("companies")  # out of scope is not deleted


async def test_ticket_setup_data_and_sites_are_read_in_one_bundle_each(harness: Harness) -> None:
    harness.clear_requests()
    await harness.sync(full=True)
    paths = [r.path for r in harness.requests()]
    assert not any("/sites" in p or ("/service/boards/" in p and p.endswith("/statuses"))
                   for p in paths)
    bundles = [json.loads(r.body) for r in harness.requests() if r.path.endswith("/system/bundles")]
    kinds = sorted(b["requests"][0]["resourceType"] for b in bundles)
    assert kinds == ["boardStatus", "site"]
    sites = next(b for b in bundles if b["requests"][0]["resourceType"] == "site")
    assert len(sites["requests"]) == harness.ds.count("companies")
    assert len(await harness.rows(Entity.SITE)) == harness.ds.count("sites")
    assert len(await harness.rows(Entity.TICKET_STATUS)) == harness.ds.count("ticket_statuses")


async def test_a_wrong_key_is_one_error_line_and_one_grouped_reason(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="psad.engine")
    secrets = {**CONNECTWISE.secrets, "private_key": "not-the-private-key"}
    connector = ConnectWiseConnector(integration_for(harness.sim), harness.connector.client,
                                     secrets)
    report = await run_sync(harness.store, harness.engine, connector)
    assert report.outcome == "failed"
    run = await harness.store.get_run(report.run_id)
    assert run is not None
    failed = [e.entity for e in run.errors]
    assert len(failed) >= 2  # the entities already under way when the first 401 came
    assert report.error is not None
    entities, reason = report.error.split("): ", 1)
    assert reason == "HTTP 401: Incorrect company, public key or private key"
    assert entities.startswith(f"{len(failed)} entities (")
    assert sorted(entities.split(" (", 1)[1].split(", ")) == sorted(failed)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "fetch failed, run stops" in errors[0].getMessage()
