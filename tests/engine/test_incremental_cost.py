"""Bundled per-company reads and incremental runs that cost what changed (ConnectWise)."""

from __future__ import annotations

import json
import logging

import pytest

from conftest import stored_rows
from psad.config import SyncConfig
from psad.engine import SyncEngine
from psad.model import Entity
from psad.simulators import FAULTS_KEY
from psad.simulators.dataset import BASE_TIME
from test_sync_connectwise import Harness, harness  # noqa: F401 (the fixture)

API = "/v4_6_release/apis/3.0"


def bundles(h: Harness, kind: str) -> list[dict]:
    return [b for b in (json.loads(r.body) for r in h.requests()
                        if r.path.endswith("/system/bundles"))
            if b["requests"][0]["resourceType"] == kind]


def site_calls(h: Harness) -> list[str]:
    return [r.path for r in h.requests() if r.path.endswith("/sites")]


async def sync_as(h: Harness, trigger: str, *, full: bool = False):
    run_id = await h.store.create_run("acme", trigger, "test", full=full,
                                      queued_at=h.engine.clock())
    return await h.engine.run(run_id, h.connector, full=full)


def entity(report, which: Entity):
    return next(r for r in report.entities if r.entity is which)


async def test_incremental_site_reads_carry_the_changed_since_condition(harness: Harness) -> None:
    await harness.sync()
    site_id = harness.ds.ids("sites")[4]
    harness.ds.update("sites", site_id, name="Renamed Site")
    harness.clear_requests()
    report = await harness.sync()
    sites = entity(report, Entity.SITE)
    assert (sites.mode, sites.fetched, sites.updated, sites.deleted) == ("incremental", 1, 1, 0)
    (bundle,) = bundles(harness, "site")
    assert all("lastUpdated>[" in r["apiRequest"]["filters"]["conditions"]
               for r in bundle["requests"])
    assert not site_calls(harness)
    assert (await stored_rows(harness.store, Entity.SITE))[str(site_id)]["name"] == "Renamed Site"


async def test_refused_bundles_fall_back_to_one_call_per_company_logged_once(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.sim.app[FAULTS_KEY].status(f"{API}/system/bundles", 404, count=None)
    with caplog.at_level(logging.WARNING, logger="psad.connectors.connectwise"):
        report = await harness.sync(full=True)
    assert report.outcome == "succeeded", report.error
    assert len(site_calls(harness)) == harness.ds.count("companies")
    assert len(await stored_rows(harness.store, Entity.SITE)) == harness.ds.count("sites")
    refusals = [m for m in caplog.messages if "refused" in m]
    assert len(refusals) == 1
    harness.clear_requests()
    await harness.sync(full=True)
    assert not [r for r in harness.requests() if "/system/bundles" in r.path]


async def test_one_failed_read_in_a_bundle_is_read_alone(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    companies = harness.ds.ids("companies")
    for company in companies[:2]:
        harness.sim.app[FAULTS_KEY].status(f"{API}/company/companies/{company}/sites", 500)
    with caplog.at_level(logging.WARNING, logger="psad.connectors.connectwise"):
        report = await harness.sync(full=True)
    assert report.outcome == "succeeded", report.error
    assert sorted(site_calls(harness)) == sorted(
        f"{API}/company/companies/{c}/sites" for c in companies[:2])
    assert len(await stored_rows(harness.store, Entity.SITE)) == harness.ds.count("sites")
    assert len([m for m in caplog.messages if "fall back" in m]) == 1


async def test_a_deletion_changes_the_count_so_ids_are_listed_and_it_is_swept(
        harness: Harness) -> None:
    await harness.sync()
    gone = harness.ds.ids("assets")[7]
    harness.ds.delete("assets", gone)
    harness.clear_requests()
    report = await harness.sync()
    assert entity(report, Entity.ASSET).deleted == 1
    assert any(r.query.get("fields") == "id" and r.path.endswith("/company/configurations")
               for r in harness.requests())
    assert str(gone) not in await stored_rows(harness.store, Entity.ASSET)


async def test_a_deleted_site_is_swept_in_an_incremental_run(harness: Harness) -> None:
    await harness.sync()
    gone = harness.ds.ids("sites")[3]
    harness.ds.delete("sites", gone)
    report = await harness.sync()
    assert entity(report, Entity.SITE).deleted == 1
    assert str(gone) not in await stored_rows(harness.store, Entity.SITE)


async def test_a_delete_and_an_add_that_keep_the_count_are_caught_by_the_nightly_sweep(
        harness: Harness) -> None:
    await harness.sync()
    ds = harness.ds
    gone = ds.ids("contacts")[2]
    ds.delete("contacts", gone)
    # an addition psad's changed-since read cannot see (dated before its cursor)
    ds.add("contacts", company_id=ds.ids("companies")[0], first_name="Late",
                   last_name="Arrival", updated_at=BASE_TIME)
    report = await sync_as(harness, "manual")
    contacts = entity(report, Entity.CONTACT)
    assert contacts.deleted == 0  # the shortcut fired: counts equal, nothing listed
    assert str(gone) in await stored_rows(harness.store, Entity.CONTACT)
    report = await sync_as(harness, "nightly")
    assert entity(report, Entity.CONTACT).deleted == 1
    assert str(gone) not in await stored_rows(harness.store, Entity.CONTACT)


async def test_a_full_sweep_trigger_lists_ids_even_when_counts_agree(harness: Harness) -> None:
    harness.engine = SyncEngine(harness.store, SyncConfig(cursor_overlap_seconds=0,
                                                          full_sweep_triggers=("manual",)))
    await harness.sync()
    harness.clear_requests()
    await sync_as(harness, "manual")
    assert any(r.query.get("fields") == "id" and r.path.endswith("/company/contacts")
               for r in harness.requests())
    assert not any(r.path.endswith("/count") for r in harness.requests())
