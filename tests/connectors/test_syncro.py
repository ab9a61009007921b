"""Syncro: the connector and the sync core against the Syncro simulator on loopback."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import aiohttp
import pytest

from conftest import store_snapshot
from psad.config import IntegrationConfig
from psad.connectors.syncro import (
    REQUESTS_PER_MINUTE,
    SyncroConnector,
    id_name,
    name_id,
)
from psad.errors import ConfigError, PsaBadResponse, PsaInvalidId, PsaNotFound
from psad.http import PsaClient, RetryPolicy
from psad.model import Entity, TicketQuery
from psad.simulators.dataset import Dataset
from psad.transport import SlidingWindow
from psad.simulators.syncro import (
    API_PATH,
    DEFAULT_API_KEY,
    NOT_AUTHORIZED,
    RATE_LIMIT_KEY,
    SIMULATOR_SECRETS,
    SIMULATOR_SETTINGS,
    RateLimit,
    create_app,
)
from psad.simulators.serve import serve_app
import sim_harness
from sim_harness import HarnessMaker

ASSET_FIELDS = ("Backup", "Last Audit", "Cost Centre")
CONTACT_FIELDS = ("VIP",)
CLOSED = {"Resolved", "Invoiced"}
PAGE_SIZES = {"customers": 5}


# --- harness ----------------------------------------------------------------------------


class Sim(sim_harness.Sim):
    @property
    def limit(self) -> RateLimit:
        return self.app[RATE_LIMIT_KEY]


async def start_sim(dataset: Dataset, **options: Any) -> Sim:
    app = create_app(dataset, **options)
    return Sim(app, *await serve_app(app), API_PATH)


def make_dataset() -> Dataset:
    ds = Dataset.generate(3, companies=12, sites_per_company=2, assets=150, contacts=60,
                          tickets=60)
    inactive = next(s.id for s in ds.records("company_statuses") if s.inactive)
    ds.update("companies", ds.ids("companies")[1], status_id=inactive)
    return ds


class Harness(sim_harness.Harness[Sim, SyncroConnector]):
    def connector_for(self, **overrides: Any) -> SyncroConnector:
        return make_connector(self.sim, self.session, **overrides)


def make_connector(sim: Sim, session: aiohttp.ClientSession, **overrides: Any) -> SyncroConnector:
    secrets = overrides.pop("secrets", dict(SIMULATOR_SECRETS))
    client = PsaClient(session, "acme", policy=RetryPolicy(max_retries=4, backoff_base=0.01),
                       timeout=5)
    return SyncroConnector(integration_for(sim, **overrides), client, secrets)


def integration_for(sim: Sim, **overrides: Any) -> IntegrationConfig:
    base = IntegrationConfig(
        name="acme", kind="syncro", base_url=sim.base_url, settings=dict(SIMULATOR_SETTINGS),
        asset_custom_fields=ASSET_FIELDS, contact_custom_fields=CONTACT_FIELDS)
    return replace(base, **overrides)


@pytest.fixture
async def harness(open_harness: HarnessMaker) -> Harness:
    made: Harness = await open_harness(create_app(make_dataset(), page_sizes=PAGE_SIZES),
                                       API_PATH, make_connector, sim=Sim, harness=Harness)
    return made


# --- what psad must store, straight from the dataset ------------------------------------


def syncro_text(value: Any) -> str | None:
    """How Syncro carries a custom field value: text, checkboxes as "1"/"0"."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def expected(ds: Dataset, entity: Entity, *, websites: bool = True) -> dict[str, dict[str, Any]]:
    """The dataset as psad must store it from Syncro, Syncro's gaps spelled out."""
    statuses = {s.id: s for s in ds.records("company_statuses")}

    def disabled(c: Any) -> bool:
        status = statuses.get(c.status_id)
        return bool(status and status.inactive)

    def address(r: Any) -> dict[str, Any]:
        return {"line1": r.line1, "line2": r.line2, "city": r.city, "region": r.region,
                "postal_code": r.postal_code, "country": None}  # no country in Syncro

    def custom(values: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
        return {n: syncro_text(values.get(n)) for n in names}

    companies = ds.records("companies")
    if entity is Entity.COMPANY_STATUS:  # synthetic: Syncro only has `disabled`
        return {"active": {"name": "Active", "is_default": True},
                "disabled": {"name": "Disabled", "is_default": False}}
    if entity is Entity.COMPANY:
        return {str(c.id): {"name": c.name, "website": c.website if websites else None,
                            "status": "Disabled" if disabled(c) else "Active", "types": []}
                for c in companies}
    if entity is Entity.SITE:  # one synthesized primary site per customer, not ds.sites
        return {str(c.id): {"company_psa_id": str(c.id), "name": "Main",
                            "active": not disabled(c), "primary": True, "address": address(c)}
                for c in companies}
    if entity is Entity.ASSET:  # no asset status or notes in Syncro
        return {str(a.id): {
            "company_psa_id": str(a.company_id), "name": a.name, "status": None,
            "type": a.type, "purchase_date": syncro_text(a.purchase_date),
            "warranty_expiration": syncro_text(a.warranty_expiration),
            "serial_number": a.serial_number, "os_type": a.os_type, "notes": None,
            "manufacturer": a.manufacturer,
            "custom_fields": custom(a.custom_fields, ASSET_FIELDS)} for a in ds.records("assets")}
    if entity is Entity.CONTACT:  # no contact type or active flag in Syncro
        return {str(c.id): {
            "company_psa_id": str(c.company_id), "first_name": c.first_name,
            "last_name": c.last_name, "type": None, "title": c.title, "email": c.email,
            "phone": c.phone, "address": address(c), "active": True,
            "custom_fields": custom(c.custom_fields, CONTACT_FIELDS)}
            for c in ds.records("contacts")}
    if entity is Entity.BOARD:  # problem types: names only, always active
        return {name_id(b.name): {"name": b.name, "active": True} for b in ds.records("boards")}
    if entity is Entity.PRIORITY:
        return {name_id(p.name): {"name": p.name, "sort_order": p.sort_order}
                for p in ds.records("priorities")}
    names = list(dict.fromkeys(s.name for s in ds.records("ticket_statuses")))
    return {name_id(n): {"name": n, "board_psa_id": None, "closed": n in CLOSED,
                         "sort_order": position} for position, n in enumerate(names)}


def stored(rows: dict[str, dict[str, Any]], keys: list[str]) -> dict[str, dict[str, Any]]:
    return {pid: {k: row[k] for k in keys} for pid, row in rows.items()}


# --- sync -------------------------------------------------------------------------------


async def test_full_sync_stores_exactly_the_dataset_field_by_field(harness: Harness) -> None:
    report = await harness.sync()
    assert report.outcome == "succeeded", report.error
    for entity in Entity:
        want = expected(harness.ds, entity)
        got = stored(await harness.rows(entity), list(next(iter(want.values()))))
        assert got == want, entity
    for row in (await harness.rows(Entity.ASSET)).values():
        assert set(row["custom_fields"]) == set(ASSET_FIELDS)  # only the selected ones
    for row in (await harness.rows(Entity.CONTACT)).values():
        assert set(row["custom_fields"]) == set(CONTACT_FIELDS)


async def test_second_sync_without_changes_writes_nothing(harness: Harness) -> None:
    await harness.sync()
    before = await store_snapshot(harness.store)
    for full in (False, True):
        report = await harness.sync(full=full)
        assert report.outcome == "succeeded"
        for result in report.entities:
            assert (result.created, result.updated, result.deleted) == (0, 0, 0), result.entity
            assert result.unchanged == result.fetched > 0, result.entity
    assert await store_snapshot(harness.store) == before


async def test_upstream_changes_become_updated_created_and_soft_deleted(harness: Harness) -> None:
    await harness.sync()
    ds = harness.ds
    assets, companies = list(ds.ids("assets")), list(ds.ids("companies"))
    contacts = list(ds.ids("contacts"))
    ds.update("assets", assets[0], serial_number="NEW-SN", os_type="Windows 11 Pro")
    added = ds.add("assets", company_id=companies[0], name="NEW-PC", type="Workstation")
    ds.delete("assets", assets[1])
    ds.update("companies", companies[2], name="Renamed Ltd")
    ds.update("contacts", contacts[4], title="Chief Everything")
    gone_company = companies[-1]
    for contact_id in [i for i in ds.ids("contacts") if ds.contacts[i].company_id == gone_company]:
        ds.delete("contacts", contact_id)
    for asset_id in [i for i in ds.ids("assets") if ds.assets[i].company_id == gone_company]:
        ds.delete("assets", asset_id)
    ds.delete("companies", gone_company)

    report = await harness.sync()
    by_entity = {r.entity: r for r in report.entities}
    asset = by_entity[Entity.ASSET]
    assert (asset.created, asset.updated) == (1, 1) and asset.deleted >= 1
    assert (by_entity[Entity.COMPANY].updated, by_entity[Entity.COMPANY].deleted) == (1, 1)
    assert by_entity[Entity.SITE].deleted == 1  # the synthesized site goes with its customer
    assert by_entity[Entity.CONTACT].updated == 1
    rows = await harness.rows(Entity.ASSET, live=False)
    assert (rows[str(assets[0])]["serial_number"], rows[str(assets[0])]["os_type"]) == \
        ("NEW-SN", "Windows 11 Pro")
    assert rows[str(added.id)]["name"] == "NEW-PC"
    assert rows[str(assets[1])]["deleted_at"] is not None  # kept, marked deleted
    sites = await harness.rows(Entity.SITE, live=False)
    assert sites[str(gone_company)]["deleted_at"] is not None
    contact = (await harness.rows(Entity.CONTACT))[str(contacts[4])]
    assert contact["title"] == "Chief Everything"
    assert (await harness.rows(Entity.COMPANY))[str(companies[2])]["name"] == "Renamed Ltd"


def delete_assets_while_listing(harness: Harness, *, times: int) -> list[int]:
    """Delete the first asset each time page 2 of the assets is asked for, ``times`` times."""
    real_get = harness.connector._get
    deleted: list[int] = []

    async def get(path: str, params: Any = None) -> Any:
        if path == "customer_assets" and params.get("page") == 2 and len(deleted) < times:
            deleted.append(harness.ds.ids("assets")[0])
            harness.ds.delete("assets", deleted[-1])
        return await real_get(path, params)

    harness.connector._get = get  # type: ignore[method-assign]
    return deleted


async def test_a_deletion_while_the_assets_are_listed_misses_no_other_asset(
        harness: Harness) -> None:
    await harness.sync()
    deleted = delete_assets_while_listing(harness, times=1)
    report = await harness.sync()
    assert report.outcome == "succeeded"
    asset = next(r for r in report.entities if r.entity is Entity.ASSET)
    assert asset.requests == 6  # page 2 disagreed about the size: the list was read twice
    live = {str(i) for i in harness.ds.ids("assets")}
    rows = await harness.rows(Entity.ASSET)
    assert rows.keys() == live | {str(deleted[0])}  # none missed; the deleted one was read
    await harness.sync()
    assert (await harness.rows(Entity.ASSET)).keys() == live


async def test_a_list_that_keeps_changing_is_not_swept_and_the_run_says_so(
        harness: Harness) -> None:
    await harness.sync()
    deleted = delete_assets_while_listing(harness, times=2)
    report = await harness.sync()
    assert report.outcome == "partial"
    asset = next(r for r in report.entities if r.entity is Entity.ASSET)
    assert asset.deleted == 0 and "deletion sweep skipped" in (asset.note or "")
    rows = await harness.rows(Entity.ASSET)
    assert rows.keys() == {str(i) for i in harness.ds.ids("assets")} | {str(i) for i in deleted}
    harness.connector = harness.connector_for()
    again = await harness.sync()
    assert again.outcome == "succeeded"
    assert (await harness.rows(Entity.ASSET)).keys() == {str(i) for i in harness.ds.ids("assets")}


async def test_every_entity_is_fetched_in_full_because_syncro_has_no_changed_since_filter(
        harness: Harness) -> None:
    assert SyncroConnector.incremental == frozenset()
    await harness.sync()
    first = len(harness.sim.requests())
    harness.ds.update("contacts", harness.ds.ids("contacts")[5], title="Chief Everything")
    harness.sim.clear_requests()
    report = await harness.sync()
    assert report.outcome == "succeeded"
    for result in report.entities:
        assert result.mode == "full", result.entity
    contacts = next(r for r in report.entities if r.entity is Entity.CONTACT)
    assert (contacts.fetched, contacts.updated) == (harness.ds.count("contacts"), 1)
    calls = harness.sim.requests()
    assert len(calls) == first  # the same full pass, no extra id listing
    assert not any("since_updated_at" in r.query for r in calls)


@pytest.mark.no_store
async def test_simulator_filters_tickets_by_since_updated_at(harness: Harness) -> None:
    ds = harness.ds
    cutoff = max(t.updated_at for t in ds.records("tickets"))
    changed = ds.update("tickets", ds.ids("tickets")[3], summary="Changed upstream")
    url = harness.sim.base_url + "tickets"
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    params = {"since_updated_at": cutoff.isoformat().replace("+00:00", "Z")}
    async with harness.session.get(url, params=params, headers=headers) as resp:
        body = await resp.json()
    assert [t["id"] for t in body["tickets"]] == [changed.id]
    assert body["meta"] == {"total_pages": 1, "page": 1}
    async with harness.session.get(url, params={"since_updated_at": "soon"},
                                   headers=headers) as resp:
        assert resp.status == 422


async def test_paging_follows_meta_total_pages_and_stops_there(harness: Harness) -> None:
    harness.sim.clear_requests()
    report = await harness.sync()
    assert report.outcome == "succeeded"
    customer_pages = [r.query["page"] for r in harness.sim.requests()
                      if r.path == "/api/v1/customers"]
    assert sorted(customer_pages) == ["1", "1", "2", "2", "3", "3"]  # companies, then sites
    asset_pages = [r.query["page"] for r in harness.sim.requests()
                   if r.path == "/api/v1/customer_assets"]
    assert asset_pages == ["1", "2", "3"]  # 150 assets, 50 a page: no page 4
    async with harness.session.get(
            harness.sim.base_url + "customers", params={"page": "3", "include_disabled": "1"},
            headers={"Authorization": DEFAULT_API_KEY}) as resp:
        body = await resp.json()
    assert body["meta"] == {"total_pages": 3, "total_entries": 12, "per_page": 5, "page": 3}
    async with harness.session.get(harness.sim.base_url + "customers", params={"page": "9"},
                                   headers={"Authorization": DEFAULT_API_KEY}) as resp:
        assert (await resp.json())["customers"] == []  # past the end: an empty page


# --- vendor gaps ------------------------------------------------------------------------


async def test_customers_have_no_website_unless_a_custom_field_is_named(
        harness: Harness) -> None:
    harness.connector = harness.connector_for(settings={})
    await harness.sync()
    companies = await harness.rows(Entity.COMPANY)
    assert all(c["website"] is None for c in companies.values())
    want = expected(harness.ds, Entity.COMPANY, websites=False)
    assert stored(companies, ["name", "website", "status"]) == {
        k: {f: v[f] for f in ("name", "website", "status")} for k, v in want.items()}
    harness.connector = harness.connector_for()
    await harness.sync()
    websites = {k: v["website"] for k, v in (await harness.rows(Entity.COMPANY)).items()}
    assert websites == {str(c.id): c.website for c in harness.ds.records("companies")}


async def test_each_customer_gets_one_synthesized_primary_site(harness: Harness) -> None:
    await harness.sync()
    sites = await harness.rows(Entity.SITE)
    companies = await harness.rows(Entity.COMPANY)
    assert sites.keys() == companies.keys()
    assert all(s["primary"] and s["company_psa_id"] == pid for pid, s in sites.items())
    disabled = [pid for pid, c in companies.items() if c["status"] == "Disabled"]
    assert disabled and all(not sites[pid]["active"] for pid in disabled)
    assert harness.ds.count("sites") == 2 * len(sites)  # the dataset's other sites are lost
    assert not any(r.path.endswith("/sites") for r in harness.sim.requests())


async def test_contacts_have_no_type_or_active_flag_and_split_the_name(
        harness: Harness) -> None:
    ds = harness.ds
    contact = ds.records("contacts")[0]
    ds.update("contacts", contact.id, first_name="Mary Ann", last_name="Lee", active=False)
    await harness.sync()
    rows = await harness.rows(Entity.CONTACT)
    assert all(r["type"] is None and r["active"] is True for r in rows.values())
    row = rows[str(contact.id)]
    assert (row["first_name"], row["last_name"]) == ("Mary", "Ann Lee")  # split at first space
    titled = [c for c in ds.records("contacts") if c.title]
    assert titled and all(rows[str(c.id)]["title"] == c.title for c in titled)  # properties.title


async def test_disabled_customers_are_listed_only_with_include_disabled(harness: Harness) -> None:
    disabled = harness.ds.ids("companies")[1]
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    ids: dict[str, set[int]] = {}
    for flag in ("false", "true"):
        ids[flag] = set()
        for page in (1, 2, 3):
            async with harness.session.get(
                    harness.sim.base_url + "customers", headers=headers,
                    params={"page": str(page), "include_disabled": flag}) as resp:
                ids[flag] |= {c["id"] for c in (await resp.json())["customers"]}
    assert disabled in ids["true"] and disabled not in ids["false"]
    await harness.sync()
    assert (await harness.rows(Entity.COMPANY))[str(disabled)]["status"] == "Disabled"


async def test_malformed_record_is_rejected_alone(harness: Harness) -> None:
    ds = harness.ds
    bad_asset, tolerated = ds.ids("assets")[7], ds.ids("assets")[8]
    bad_contact = ds.ids("contacts")[3]
    bad_customer = ds.ids("companies")[4]
    ds.corrupt("assets", bad_asset, "name", None)
    ds.corrupt("contacts", bad_contact, "properties", "not an object")
    ds.corrupt("companies", bad_customer, "disabled", "maybe")
    ds.corrupt("assets", tolerated, "properties/Purchase Date", "sometime")
    report = await harness.sync()
    assert report.outcome == "partial"
    counts = {r.entity: (r.rejected, r.created) for r in report.entities}
    assert counts[Entity.ASSET] == (1, 149)
    assert counts[Entity.CONTACT] == (1, 59)
    assert counts[Entity.COMPANY] == (1, 11) and counts[Entity.SITE] == (1, 11)
    run = (await harness.store.get_run(report.run_id)).to_json()
    assert run is not None
    reasons = {(e["entity"], e["psa_id"]): e["message"] for e in run["errors"]}
    assert "name" in reasons[("assets", str(bad_asset))]
    assert "properties" in reasons[("contacts", str(bad_contact))]
    assert "disabled" in reasons[("companies", str(bad_customer))]
    assets = await harness.rows(Entity.ASSET)
    assert assets[str(tolerated)]["purchase_date"] is None  # an odd custom date is no error


# --- auth, throttling and the exact wire ------------------------------------------------


@pytest.mark.no_store
async def test_api_key_is_accepted_as_bearer_bare_header_or_query_parameter(
        harness: Harness) -> None:
    url = harness.sim.base_url + "tickets/settings"
    for headers, params in (({"Authorization": f"Bearer {DEFAULT_API_KEY}"}, {}),
                            ({"Authorization": DEFAULT_API_KEY}, {}),
                            ({}, {"api_key": DEFAULT_API_KEY})):
        async with harness.session.get(url, headers=headers, params=params) as resp:
            assert resp.status == 200, (headers, params)
    for headers, params in (({"Authorization": "Bearer wrong"}, {}), ({}, {}),
                            ({}, {"api_key": "wrong"})):
        async with harness.session.get(url, headers=headers, params=params) as resp:
            assert (resp.status, await resp.json()) == (401, {"error": NOT_AUTHORIZED})


async def test_a_refused_api_key_fails_the_run(harness: Harness) -> None:
    harness.connector = harness.connector_for(secrets={"api_key": "revoked"})
    report = await harness.sync()
    assert report.outcome == "failed"
    assert report.error and "401" in report.error and "Not authorized" in report.error
    run = (await harness.store.get_run(report.run_id)).to_json()
    assert run is not None
    failed_entities = {e["entity"] for e in run["errors"]}
    # one refused request per entity that started, none retried: a Syncro token cannot refresh
    assert 0 < len(harness.sim.requests()) == len(failed_entities)


async def test_per_ip_limit_answers_429_with_retry_after_and_the_connector_backs_off(
        harness: Harness) -> None:
    throttled_sim = await start_sim(harness.ds, page_sizes=PAGE_SIZES, rate_limit=5,
                                    rate_window=1.0)
    try:
        harness.sim, original = throttled_sim, harness.sim
        harness.connector = harness.connector_for()
        report = await harness.sync()
    finally:
        harness.sim = original
        await throttled_sim.stop()
    assert report.outcome == "succeeded", report.error
    for entity in (Entity.COMPANY, Entity.ASSET, Entity.CONTACT):
        assert (await harness.rows(entity)).keys() == expected(harness.ds, entity).keys()
    history = list(throttled_sim.limit.history)
    throttled = [s for s in history if s.throttled]
    assert throttled and all(s.retry_after and s.retry_after >= 1 for s in throttled)
    used: set[int] = set()
    for s in throttled:  # every refused request came back, and only after Retry-After
        retry = next(i for i, n in enumerate(history) if i not in used
                     and n.path_qs == s.path_qs and n.at >= s.at + (s.retry_after or 0) - 0.05)
        used.add(retry)
    per_window: dict[int, int] = {}
    for s in history:
        if not s.throttled:
            per_window[int(s.at)] = per_window.get(int(s.at), 0) + 1
    assert max(per_window.values()) <= 5


@pytest.mark.no_store
async def test_simulator_answers_429_with_retry_after_past_the_limit(harness: Harness) -> None:
    sim = await start_sim(harness.ds, rate_limit=2, rate_window=60.0)
    try:
        statuses = []
        for _ in range(3):
            async with harness.session.get(sim.base_url + "me",
                                           headers={"Authorization": DEFAULT_API_KEY}) as resp:
                statuses.append((resp.status, resp.headers.get("Retry-After")))
                body = await resp.text()
    finally:
        await sim.stop()
    assert [s for s, _ in statuses] == [200, 200, 429]
    assert 1 <= int(statuses[2][1] or 0) <= 60 and body == "Retry later\n"


@pytest.mark.no_store
async def test_connectors_on_one_session_share_the_per_ip_request_budget(
        harness: Harness) -> None:
    assert REQUESTS_PER_MINUTE == 180
    budget = harness.connector.client.transport.budget
    assert isinstance(budget, SlidingWindow) and budget.limit == REQUESTS_PER_MINUTE
    assert harness.connector_for().client.transport.budget is budget
    slower = harness.connector_for(settings={"requests_per_minute": "60"})
    assert isinstance(slower.client.transport.budget, SlidingWindow)
    assert slower.client.transport.budget.limit == 60


@pytest.mark.no_store
async def test_requests_per_minute_setting_must_be_a_positive_number(harness: Harness) -> None:
    with pytest.raises(ConfigError):
        harness.connector_for(settings={"requests_per_minute": "fast"})
    assert harness.connector_for(settings={"requests_per_minute": "60"}).requests_per_minute == 60


async def test_requests_match_the_documented_wire_format(harness: Harness) -> None:
    harness.sim.clear_requests()
    await harness.sync(full=True)
    calls = harness.sim.requests()

    def call(path: str, **query: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return "GET", path, tuple(sorted(query.items()))

    assert sorted(call(r.path, **r.query) for r in calls) == sorted([
        *[call("/api/v1/customers", include_disabled="true", page=str(p))  # companies
          for p in (1, 2, 3)],
        *[call("/api/v1/customers", include_disabled="true", page=str(p))  # sites
          for p in (1, 2, 3)],
        *[call("/api/v1/customer_assets", page=str(p)) for p in (1, 2, 3)],
        *[call("/api/v1/contacts", page=str(p)) for p in (1, 2)],
        call("/api/v1/settings"),  # boards
        call("/api/v1/settings"),  # priorities
        call("/api/v1/tickets/settings"),
    ])
    assert all(r.method == "GET" for r in calls)  # read-only: no request bodies
    company = harness.ds.ids("companies")[2]
    harness.sim.clear_requests()
    page = await harness.connector.list_tickets(TicketQuery(
        company=str(company), status=name_id("In Progress"), text="printer"))
    ticket = await harness.connector.get_ticket(str(harness.ds.ids("tickets")[0]))
    listed, fetched = harness.sim.requests()
    assert (listed.path, dict(listed.query)) == ("/api/v1/tickets", {
        "customer_id": str(company), "status": "In Progress", "query": "printer", "page": "1"})
    assert (fetched.path, dict(fetched.query)) == (f"/api/v1/tickets/{ticket.psa_id}", {})
    for r in [*calls, listed, fetched]:
        assert r.headers["Authorization"] == f"Bearer {DEFAULT_API_KEY}"
        assert r.headers["Accept"] == "application/json"
        assert "api_key" not in r.query  # the token never sits in a URL
    assert all(t.status == "In Progress" for t in page.tickets)


# --- live tickets -----------------------------------------------------------------------


def dataset_tickets(ds: Dataset) -> list[dict[str, Any]]:
    """Tickets as Syncro lists them (newest first), with names resolved."""
    out = []
    for t in reversed(ds.records("tickets")):
        status = ds.ticket_statuses[t.status_id].name
        contact = ds.contacts.get(t.contact_id) if t.contact_id else None
        out.append({
            "id": str(t.id), "summary": t.summary, "company": str(t.company_id),
            "company_name": ds.companies[t.company_id].name,
            "board": ds.boards[t.board_id].name, "status": status,
            "priority": ds.priorities[t.priority_id].name,
            "contact": f"{contact.first_name} {contact.last_name}" if contact else None,
            "created_at": t.created_at.replace(microsecond=t.created_at.microsecond // 1000 * 1000),
            "closed": status in CLOSED})
    return out


def summary(ticket: Any) -> dict[str, Any]:
    return {"id": ticket.psa_id, "summary": ticket.summary, "company": ticket.company_psa_id,
            "company_name": ticket.company_name, "board": ticket.board, "status": ticket.status,
            "priority": ticket.priority, "contact": ticket.contact,
            "created_at": ticket.created_at, "closed": ticket.closed}


@pytest.mark.no_store
async def test_live_tickets_are_listed_and_paged_newest_first(harness: Harness) -> None:
    want = dataset_tickets(harness.ds)
    pages = [await harness.connector.list_tickets(TicketQuery(page=n, page_size=25))
             for n in (1, 2, 3)]
    assert [summary(t) for p in pages for t in p.tickets] == want
    assert [(len(p.tickets), p.has_more) for p in pages] == [(25, True), (25, True), (10, False)]
    harness.sim.clear_requests()
    await harness.connector.list_tickets(TicketQuery(page=3, page_size=25))
    assert [r.query["page"] for r in harness.sim.requests()] == ["2"]  # jumps, page size known
    empty = await harness.connector.list_tickets(TicketQuery(page=9, page_size=25))
    assert (empty.tickets, empty.has_more) == ((), False)


@pytest.mark.no_store
async def test_live_tickets_filter_by_company_status_board_priority_and_text(
        harness: Harness) -> None:
    ds = harness.ds
    want = dataset_tickets(ds)
    company = want[0]["company"]
    got = await harness.connector.list_tickets(TicketQuery(company=company, page_size=100))
    assert [t.psa_id for t in got.tickets] == [t["id"] for t in want if t["company"] == company]
    status = want[0]["status"]
    got = await harness.connector.list_tickets(TicketQuery(status=name_id(status), page_size=100))
    assert [t.psa_id for t in got.tickets] == [t["id"] for t in want if t["status"] == status]
    board, priority = ds.records("boards")[1].name, ds.records("priorities")[2].name
    matching = [t["id"] for t in want if t["board"] == board and t["priority"] == priority]
    got = await harness.connector.list_tickets(TicketQuery(
        board=name_id(board), priority=name_id(priority), page_size=100))
    assert [t.psa_id for t in got.tickets] == matching and matching
    first = await harness.connector.list_tickets(TicketQuery(board=name_id(board), page_size=3))
    second = await harness.connector.list_tickets(TicketQuery(board=name_id(board), page=2,
                                                              page_size=3))
    on_board = [t["id"] for t in want if t["board"] == board]
    assert [t.psa_id for t in first.tickets + second.tickets] == on_board[:6]
    assert first.has_more
    got = await harness.connector.list_tickets(TicketQuery(text="PRINTER", page_size=100))
    assert got.tickets and all("printer" in t.summary.lower() for t in got.tickets)


@pytest.mark.no_store
async def test_live_ticket_is_fetched_with_a_link_to_syncro(harness: Harness) -> None:
    want = dataset_tickets(harness.ds)[4]
    ticket = await harness.connector.get_ticket(want["id"])
    assert summary(ticket) == want
    assert ticket.url == f"{harness.sim.root}/tickets/{want['id']}"
    with pytest.raises(PsaNotFound):
        await harness.connector.get_ticket("999999")


@pytest.mark.no_store
async def test_ticket_list_refuses_bad_filters(harness: Harness) -> None:
    for query in (TicketQuery(company="12a"), TicketQuery(board="Help Desk"),
                  TicketQuery(status="-ZZ"), TicketQuery(priority="a-2")):
        with pytest.raises(PsaInvalidId):
            await harness.connector.list_tickets(query)
    with pytest.raises(ValueError):
        await harness.connector.list_tickets(TicketQuery(page=0))
    with pytest.raises(PsaInvalidId):
        await harness.connector.get_ticket("12; DROP")
    assert harness.sim.requests() == []


def test_name_ids_are_web_safe_and_reversible() -> None:
    for name in ("In Progress", "Priority 1 - Emergency Response", ">Closed", "Ünïcode_ok", "2"):
        ident = name_id(name)
        assert all(c.isascii() and (c.isalnum() or c in "-_") for c in ident)
        assert id_name(ident) == name
    for bad in ("", "-4", "-zz", "a b", "In%20Progress"):
        with pytest.raises(PsaInvalidId):
            id_name(bad)


@pytest.mark.no_store
async def test_a_ticket_malformed_upstream_is_left_out_of_the_list(harness: Harness) -> None:
    ds = harness.ds
    newest = ds.ids("tickets")[-1]
    ds.corrupt("tickets", newest, "created_at", "yesterday")
    page = await harness.connector.list_tickets(TicketQuery(page_size=5))
    assert str(newest) not in [t.psa_id for t in page.tickets] and len(page.tickets) == 4
    with pytest.raises(PsaBadResponse):
        await harness.connector.get_ticket(str(newest))


async def test_simulator_serves_large_lists_whole() -> None:
    """Large lists render (their speed is part of bench's floors, not a unit test)."""
    ds = Dataset.generate(9, companies=300, assets=2000, contacts=1500, tickets=600)
    sim = await start_sim(ds)
    try:
        async with aiohttp.ClientSession() as session:
            for path in ("customers", "customer_assets", "contacts", "tickets"):
                async with session.get(sim.base_url + path,
                                       headers={"Authorization": DEFAULT_API_KEY}) as resp:
                    assert resp.status == 200
                    body = await resp.json()
                    assert any(isinstance(v, list) and v for v in body.values()), path
    finally:
        await sim.stop()
