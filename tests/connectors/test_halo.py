"""The HaloPSA connector against the Halo simulator on loopback, with a real SQLite store."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import date
from typing import Any

import aiohttp
import pytest

from psad.config import IntegrationConfig, SyncConfig
from psad.connectors.halo import HaloConnector
from psad.engine import SyncEngine
from psad.errors import PsaAuthError, PsaInvalidId, PsaNotFound
from psad.http import PsaClient, RetryPolicy
from psad.model import Entity, Priority, TicketQuery
from psad.simulators import FAULTS_KEY, LoggedRequest
from psad.simulators.dataset import Dataset
from psad.simulators.halo import (
    API_PATH,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_TENANT,
    SIMULATOR_SECRETS,
    SIMULATOR_SETTINGS,
    STATE_KEY,
    HaloState,
    create_app,
)
from psad.simulators.serve import serve_app
import sim_harness
from sim_harness import HarnessMaker

ASSET_FIELDS = ("Backup", "Last Audit")
CONTACT_FIELDS = ("VIP",)
PAGE_SIZE = 40


class Sim(sim_harness.Sim):
    @property
    def state(self) -> HaloState:
        return self.app[STATE_KEY]


async def start_halo(dataset: Dataset, **options: Any) -> Sim:
    app = create_app(dataset, **options)
    return Sim(app, *await serve_app(app), API_PATH)


def integration_for(sim: Sim, **overrides: Any) -> IntegrationConfig:
    base = IntegrationConfig(
        name="acme", kind="halo", base_url=sim.base_url,
        settings=dict(SIMULATOR_SETTINGS), asset_custom_fields=ASSET_FIELDS,
        contact_custom_fields=CONTACT_FIELDS, page_size=PAGE_SIZE)
    return replace(base, **overrides)


def connect(sim: Sim, session: aiohttp.ClientSession, secrets: dict[str, str] | None = None,
            **overrides: Any) -> HaloConnector:
    client = PsaClient(session, "acme", timeout=5,
                       policy=RetryPolicy(max_retries=3, backoff_base=0.01))
    return HaloConnector(integration_for(sim, **overrides), client,
                         secrets if secrets is not None else dict(SIMULATOR_SECRETS))


class Harness(sim_harness.Harness[Sim, HaloConnector]):
    def connector_for(self, sim: Sim, secrets: dict[str, str] | None = None,
                      **overrides: Any) -> HaloConnector:
        return connect(sim, self.session, secrets, **overrides)


@pytest.fixture
async def harness(open_harness: HarnessMaker) -> Harness:
    dataset = Dataset.generate(3, companies=12, sites_per_company=2, assets=150, contacts=60,
                               tickets=30)
    made: Harness = await open_harness(create_app(dataset), API_PATH, connect, sim=Sim,
                                       harness=Harness)
    return made


def main_sites(ds: Dataset) -> dict[int, int]:
    """Company → its lowest-id primary site: all Halo can say (``client.main_site_id``)."""
    out: dict[int, int] = {}
    for site in ds.records("sites"):
        if site.primary:
            out.setdefault(site.company_id, site.id)
    return out


def expected(ds: Dataset, entity: Entity) -> dict[str, dict[str, Any]]:
    """What psad must store from Halo, from the dataset, with Halo's gaps spelled out."""
    def address(r: Any) -> dict[str, Any]:
        return {"line1": r.line1, "line2": r.line2, "city": r.city, "region": r.region,
                "postal_code": r.postal_code, "country": None}  # Halo addresses have no country

    def custom(values: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
        return {n: values[n].isoformat() if isinstance(values.get(n), date) else values.get(n)
                for n in names}

    if entity is Entity.COMPANY_STATUS:  # Halo has none: Active/Inactive from client.inactive
        return {"active": {"name": "Active", "is_default": True},
                "inactive": {"name": "Inactive", "is_default": False}}
    if entity is Entity.TICKET_STATUS:  # global in Halo: one per name, no board
        first: dict[str, Any] = {}
        for s in ds.records("ticket_statuses"):
            first.setdefault(s.name, s)
        return {str(s.id): {"name": s.name, "board_psa_id": None, "closed": s.closed,
                            "sort_order": s.sort_order} for s in first.values()}
    statuses = ds.company_statuses
    types = ds.company_types
    mains = main_sites(ds)
    out: dict[Entity, Any] = {
        Entity.COMPANY: lambda c: {
            "name": c.name, "website": c.website,
            "status": "Inactive" if statuses[c.status_id].inactive else "Active",
            "types": [types[c.type_ids[0]].name] if c.type_ids else []},  # the top level
        Entity.SITE: lambda s: {"company_psa_id": str(s.company_id), "name": s.name,
                                "active": s.active, "primary": mains.get(s.company_id) == s.id,
                                "address": address(s)},
        Entity.ASSET: lambda a: {
            "company_psa_id": str(a.company_id) if a.company_id else None, "name": a.name,
            "status": a.status, "type": a.type,
            "purchase_date": a.purchase_date.isoformat() if a.purchase_date else None,
            "warranty_expiration": a.warranty_expiration.isoformat()
            if a.warranty_expiration else None,
            "serial_number": a.serial_number, "os_type": a.os_type, "notes": a.notes,
            "manufacturer": a.manufacturer, "custom_fields": custom(a.custom_fields, ASSET_FIELDS)},
        Entity.CONTACT: lambda c: {
            "company_psa_id": str(c.company_id) if c.company_id else None,
            "first_name": c.first_name, "last_name": c.last_name,
            "type": "Important Contact" if c.type == "Decision Maker" else None,  # no types
            "title": c.title, "email": c.email, "phone": c.phone,
            "address": address(c), "active": c.active,
            "custom_fields": custom(c.custom_fields, CONTACT_FIELDS)},
        Entity.BOARD: lambda b: {"name": b.name, "active": b.active},  # Halo teams
        Entity.PRIORITY: lambda p: {"name": p.name, "sort_order": p.id},  # priorityid
    }
    return {str(r.id): out[entity](r) for r in ds.records(entity.value)}


def stored(rows: dict[str, dict[str, Any]], keys: list[str]) -> dict[str, dict[str, Any]]:
    return {pid: {k: row[k] for k in keys} for pid, row in rows.items()}


def query_of(requests: list[LoggedRequest]) -> list[dict[str, str]]:
    return [r.query for r in requests]


# --- sync ------------------------------------------------------------------------------------


async def test_full_sync_stores_exactly_the_dataset_field_by_field(harness: Harness) -> None:
    ds = harness.ds
    inactive = next(s.id for s in ds.records("company_statuses") if s.inactive)
    ds.update("companies", ds.ids("companies")[1], status_id=inactive)
    ds.update("sites", ds.ids("sites")[3], active=False)
    ds.update("contacts", ds.ids("contacts")[2], active=False, type="Decision Maker")
    report = await harness.sync()
    assert report.outcome == "succeeded", report.error
    for entity in Entity:
        want = expected(harness.ds, entity)
        got = stored(await harness.rows(entity), list(next(iter(want.values()))))
        assert got == want, entity
    assets = await harness.rows(Entity.ASSET)
    assert all(set(a["custom_fields"]) == set(ASSET_FIELDS) for a in assets.values())
    contacts = await harness.rows(Entity.CONTACT)
    assert all(set(c["custom_fields"]) == set(CONTACT_FIELDS) for c in contacts.values())
    assert any(a["custom_fields"]["Last Audit"] for a in assets.values())  # a date, read back
    companies = await harness.rows(Entity.COMPANY)
    assert companies[str(ds.ids("companies")[1])]["status"] == "Inactive"


async def test_upstream_changes_are_updated_created_and_soft_deleted(harness: Harness) -> None:
    await harness.sync()
    ds = harness.ds
    asset_ids = list(ds.ids("assets"))
    ds.update("assets", asset_ids[0], notes="moved to rack 9", serial_number="NEW-SN")
    added = ds.add("assets", company_id=ds.ids("companies")[0], name="NEW-PC", status="Active",
                   type="Workstation", manufacturer="Dell")
    ds.delete("assets", asset_ids[1])
    ds.update("companies", ds.ids("companies")[2], name="Renamed Ltd")
    contact_id = ds.ids("contacts")[4]
    ds.delete("contacts", contact_id)
    report = await harness.sync()
    assert report.outcome == "succeeded", report.error
    by_entity = {r.entity: r for r in report.entities}
    assets = by_entity[Entity.ASSET]
    assert assets.mode == "incremental"
    assert (assets.created, assets.updated, assets.deleted) == (1, 1, 1)
    assert by_entity[Entity.COMPANY].updated == 1
    assert by_entity[Entity.CONTACT].deleted == 1
    rows = await harness.rows(Entity.ASSET, live=False)
    assert rows[str(asset_ids[0])]["notes"] == "moved to rack 9"
    assert rows[str(asset_ids[0])]["serial_number"] == "NEW-SN"
    assert rows[str(added.id)]["name"] == "NEW-PC"
    assert rows[str(added.id)]["manufacturer"] == "Dell"
    assert rows[str(asset_ids[1])]["deleted_at"] is not None
    live = await harness.rows(Entity.ASSET)
    assert str(asset_ids[1]) not in live and len(live) == ds.count("assets")
    assert (await harness.rows(Entity.COMPANY))[str(ds.ids("companies")[2])]["name"] == \
        "Renamed Ltd"


async def test_incremental_sync_sends_lastupdatefromdate_and_fetches_only_changes(
        harness: Harness) -> None:
    await harness.sync()
    ds = harness.ds
    ds.update("contacts", ds.ids("contacts")[5], title="Chief Everything")
    harness.sim.clear_requests()
    report = await harness.sync()
    contacts = next(r for r in report.entities if r.entity is Entity.CONTACT)
    assert contacts.mode == "incremental" and contacts.fetched == 1 and contacts.updated == 1
    calls = query_of(harness.sim.requests("/api/Users"))
    changed = [q for q in calls if "lastupdatefromdate" in q]
    assert changed and changed[0]["lastupdatefromdate"].endswith("Z")
    # nothing was deleted: record_count of a one-row page says so, no id listing
    assert not any(q.get("idonly") == "true" for q in calls)
    assert any(q.get("page_size") == "1" and "lastupdatefromdate" not in q for q in calls)
    assets = next(r for r in report.entities if r.entity is Entity.ASSET)
    assert assets.fetched == 0 and assets.mode == "incremental"
    sites = next(r for r in report.entities if r.entity is Entity.SITE)
    assert sites.mode == "full"  # the primary flag lives on the client


async def test_primary_site_follows_the_clients_main_site_id(harness: Harness) -> None:
    await harness.sync()
    ds = harness.ds
    company = ds.ids("companies")[0]
    old, new = ds.children("sites", company)[:2]
    ds.update("sites", old, primary=False)
    ds.update("sites", new, primary=True)
    report = await harness.sync()
    assert report.outcome == "succeeded"
    sites = await harness.rows(Entity.SITE)
    assert (sites[str(old)]["primary"], sites[str(new)]["primary"]) == (False, True)


async def test_malformed_record_is_rejected_alone(harness: Harness) -> None:
    ds = harness.ds
    bad_asset, bad_contact = ds.ids("assets")[7], ds.ids("contacts")[3]
    ds.corrupt("assets", bad_asset, "inventory_number", {"not": "text"})
    ds.corrupt("contacts", bad_contact, "inactive", "maybe")
    ds.corrupt("contacts", ds.ids("contacts")[9], "unused_field", [1, 2])  # harmless
    report = await harness.sync()
    assert report.outcome == "partial"
    assets = next(r for r in report.entities if r.entity is Entity.ASSET)
    assert assets.rejected == 1 and assets.created == 149
    contacts = next(r for r in report.entities if r.entity is Entity.CONTACT)
    assert contacts.rejected == 1 and contacts.created == 59
    run = (await harness.store.get_run(report.run_id)).to_json()
    assert run is not None
    reasons = {(e["entity"], e["psa_id"]): e["message"] for e in run["errors"]}
    assert "inventory_number" in reasons[("assets", str(bad_asset))]
    assert "inactive" in reasons[("contacts", str(bad_contact))]


# --- paging, lookups, auth, throttling ---------------------------------------------------------


@pytest.mark.no_store
async def test_paging_uses_pageinate_and_stops_at_record_count(harness: Harness) -> None:
    pages = [page async for page in harness.connector.fetch(Entity.CONTACT)]
    assert [len(p.records) for p in pages] == [40, 20]
    calls = query_of(harness.sim.requests("/api/Users"))
    assert [(q["pageinate"], q["page_size"], q["page_no"]) for q in calls] == [
        ("true", "40", "1"), ("true", "40", "2")]  # no request past record_count


@pytest.mark.no_store
async def test_simulator_answers_an_empty_page_past_the_end(harness: Harness) -> None:
    connector = harness.connector
    headers = await connector.auth.headers()
    url = harness.sim.root + "/api/users"  # Halo paths are case-insensitive
    params = {"pageinate": "true", "page_size": "40", "includeinactive": "true"}
    async with harness.session.get(url, params={**params, "page_no": "2"},
                                   headers=headers) as resp:
        second = await resp.json()
    async with harness.session.get(url, params={**params, "page_no": "3"},
                                   headers=headers) as resp:
        third = await resp.json()
    assert second["record_count"] == third["record_count"] == 60
    assert len(second["users"]) == 20 and third["users"] == []


@pytest.mark.no_store
async def test_lookups_are_bare_arrays_and_priorities_collapse_across_slas(
        harness: Harness) -> None:
    headers = await harness.connector.auth.headers()
    for path in ("Team", "Status?type=ticket", "Priority"):
        async with harness.session.get(f"{harness.sim.root}/api/{path}",
                                       headers=headers) as resp:
            assert isinstance(await resp.json(), list), path
    async with harness.session.get(f"{harness.sim.root}/api/Priority", headers=headers) as resp:
        rows = await resp.json()
    assert len(rows) == 2 * harness.ds.count("priorities")
    assert all(isinstance(r["id"], str) for r in rows)  # opaque; tickets use priorityid
    pages = [p async for p in harness.connector.fetch(Entity.PRIORITY)]
    priorities = [r for p in pages for r in p.records]
    assert [p.psa_id for p in priorities] == [str(i) for i in harness.ds.ids("priorities")]
    assert all(isinstance(p, Priority) for p in priorities)


@pytest.mark.no_store
async def test_token_is_renewed_about_sixty_seconds_before_expiry(harness: Harness) -> None:
    now = [1000.0]
    harness.connector.auth.clock = lambda: now[0]
    query = TicketQuery(page_size=5)
    await harness.connector.list_tickets(query)
    assert len(harness.sim.state.token_requests) == 1
    now[0] += 3600 - 61
    await harness.connector.list_tickets(query)
    assert len(harness.sim.state.token_requests) == 1
    now[0] += 2  # 59 s left
    await harness.connector.list_tickets(query)
    assert len(harness.sim.state.token_requests) == 2


@pytest.mark.no_store
async def test_a_refused_token_is_renewed_once_and_the_request_retried(harness: Harness) -> None:
    await harness.connector.list_tickets(TicketQuery(page_size=5))
    harness.sim.state.revoke_all()
    harness.sim.clear_requests()
    page = await harness.connector.list_tickets(TicketQuery(page_size=5))
    assert len(page.tickets) == 5
    assert len(harness.sim.state.token_requests) == 2
    tickets = harness.sim.requests("/api/Tickets")
    assert len(tickets) == 2  # 401, then the retry with the new token
    assert tickets[0].headers["Authorization"] != tickets[1].headers["Authorization"]


@pytest.mark.no_store
async def test_a_short_expires_in_is_renewed_before_the_simulator_would_refuse_it(
        harness: Harness) -> None:
    sim = await start_halo(Dataset.generate(4, companies=3, assets=5, contacts=5, tickets=5),
                           token_lifetime=1)
    try:
        connector = harness.connector_for(sim)
        await connector.list_tickets(TicketQuery(page_size=5))
        await asyncio.sleep(1.1)
        await connector.list_tickets(TicketQuery(page_size=5))
        assert len(sim.state.token_requests) == 2
        assert len(sim.requests("/api/Tickets")) == 2  # renewed ahead: no 401 and retry
    finally:
        await sim.runner.cleanup()


@pytest.mark.no_store
async def test_wrong_client_secret_is_an_auth_error_naming_the_oauth_reason(
        harness: Harness) -> None:
    connector = harness.connector_for(harness.sim, secrets={"client_secret": "wrong"})
    with pytest.raises(PsaAuthError, match="invalid_client"):
        await connector.list_tickets(TicketQuery())


@pytest.mark.no_store
async def test_simulator_refuses_bad_credentials_like_halo(harness: Harness) -> None:
    root, session, ds = harness.sim.root, harness.session, harness.ds
    inactive = next(s.id for s in ds.records("company_statuses") if s.inactive)
    ds.update("companies", ds.ids("companies")[0], status_id=inactive)
    good = {"grant_type": "client_credentials", "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET, "scope": "all"}
    cases = [({**good, "client_secret": "nope"}, DEMO_TENANT, "invalid_client"),
             ({**good, "grant_type": "password"}, DEMO_TENANT, "unsupported_grant_type"),
             ({**good, "scope": "delete:everything"}, DEMO_TENANT, "invalid_scope"),
             (good, "someone-else", "invalid_request")]
    for form, tenant, error in cases:
        async with session.post(f"{root}/auth/token", params={"tenant": tenant},
                                data=form) as resp:
            assert resp.status == 400 and (await resp.json())["error"] == error
    async with session.post(f"{root}/auth/token", params={"tenant": DEMO_TENANT},
                            data=good) as resp:
        token = await resp.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    async with session.get(f"{root}/api/Client") as resp:
        assert resp.status == 401 and "invalid_token" in resp.headers["WWW-Authenticate"]
    async with session.get(f"{root}/api/Client",
                           headers={"Authorization": "Bearer forged"}) as resp:
        assert resp.status == 401
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    async with session.get(f"{root}/api/Client", headers=bearer) as resp:
        active_only = await resp.json()
    async with session.get(f"{root}/api/Client", headers=bearer,
                           params={"includeinactive": "true"}) as resp:
        everything = await resp.json()
    assert active_only["record_count"] < everything["record_count"] == harness.ds.count(
        "companies")
    async with session.get(f"{root}/api/Asset/999999", headers=bearer) as resp:
        assert resp.status == 404 and "Message" in await resp.json()


@pytest.mark.no_store
async def test_429_with_retry_after_is_waited_out(harness: Harness) -> None:
    sim = await start_halo(Dataset.generate(5, companies=4, assets=10, contacts=30, tickets=5),
                           rate_limit=(3, 1.0))
    try:
        connector = harness.connector_for(sim, page_size=5)
        started = time.monotonic()
        pages = [p async for p in connector.fetch(Entity.CONTACT)]
        elapsed = time.monotonic() - started
        assert sum(len(p.records) for p in pages) == 30
        answered = 1 + len(pages)  # the token and six pages
        assert len(sim.requests()) > answered  # the throttled ones were asked again
        assert elapsed >= 1.0  # Retry-After: 1 was honoured, not hammered through
    finally:
        await sim.runner.cleanup()


@pytest.mark.no_store
async def test_injected_429_fault_is_waited_out_for_its_retry_after(harness: Harness) -> None:
    harness.sim.app[FAULTS_KEY].status("/api/Team", 429, retry_after=1, count=1)
    started = time.monotonic()
    pages = [p async for p in harness.connector.fetch(Entity.BOARD)]
    assert len(pages[0].records) == harness.ds.count("boards")
    assert time.monotonic() - started >= 1.0
    assert len(harness.sim.requests("/api/Team")) == 2


# --- live tickets ----------------------------------------------------------------------------


@pytest.mark.no_store
async def test_live_tickets_are_listed_paged_and_linked(harness: Harness) -> None:
    ds = harness.ds
    first = await harness.connector.list_tickets(TicketQuery(page=1, page_size=10))
    assert first.total == ds.count("tickets") == 30 and first.has_more
    newest = sorted(ds.ids("tickets"), reverse=True)[:10]
    assert [t.psa_id for t in first.tickets] == [str(i) for i in newest]
    last = await harness.connector.list_tickets(TicketQuery(page=3, page_size=10))
    assert not last.has_more and len(last.tickets) == 10
    beyond = await harness.connector.list_tickets(TicketQuery(page=4, page_size=10))
    assert beyond.tickets == () and not beyond.has_more
    ticket = first.tickets[0]
    assert ticket.url == f"{harness.sim.root}/tickets?id={ticket.psa_id}"
    query = harness.sim.requests("/api/Tickets")[0].query
    assert (query["pageinate"], query["page_size"], query["page_no"]) == ("true", "10", "1")


@pytest.mark.no_store
async def test_live_ticket_filters_reach_halo_and_match(harness: Harness) -> None:
    ds = harness.ds
    sample = ds.records("tickets")[0]
    company = str(sample.company_id)
    by_company = await harness.connector.list_tickets(TicketQuery(company=company, page_size=100))
    assert by_company.tickets and all(t.company_psa_id == company for t in by_company.tickets)
    board = ds.boards[sample.board_id]
    by_board = await harness.connector.list_tickets(TicketQuery(board=str(board.id),
                                                                page_size=100))
    assert by_board.tickets and all(t.board == board.name for t in by_board.tickets)
    status = ds.ticket_statuses[sample.status_id]
    canonical = next(s for s in ds.records("ticket_statuses") if s.name == status.name)
    by_status = await harness.connector.list_tickets(TicketQuery(status=str(canonical.id),
                                                                 page_size=100))
    assert by_status.tickets and all(t.status == status.name for t in by_status.tickets)
    priority = ds.priorities[sample.priority_id]
    by_priority = await harness.connector.list_tickets(TicketQuery(priority=str(priority.id),
                                                                   page_size=100))
    assert by_priority.tickets and all(t.priority == priority.name for t in by_priority.tickets)
    word = sample.summary.split()[0]
    by_text = await harness.connector.list_tickets(TicketQuery(text=word, page_size=100))
    assert by_text.tickets and all(word.lower() in t.summary.lower() for t in by_text.tickets)
    sent = [r.query for r in harness.sim.requests("/api/Tickets")]
    assert sent[0]["client_id"] == company and sent[1]["team"] == str(board.id)
    assert sent[2]["status_id"] == str(canonical.id) and sent[3]["priority"] == str(priority.id)
    assert sent[4]["search"] == word


@pytest.mark.no_store
@pytest.mark.parametrize("field", ["company", "board", "status", "priority"])
async def test_live_ticket_filters_refuse_non_numeric_ids(harness: Harness, field: str) -> None:
    bad: dict[str, Any] = {field: "1 or 1=1"}
    with pytest.raises(PsaInvalidId, match="numeric"):
        await harness.connector.list_tickets(TicketQuery(**bad))
    assert harness.sim.requests("/api/Tickets") == []


@pytest.mark.no_store
async def test_one_live_ticket_is_fetched_with_names_resolved(harness: Harness) -> None:
    ds = harness.ds
    sample = next(t for t in ds.records("tickets") if t.contact_id is not None)
    ticket = await harness.connector.get_ticket(str(sample.id))
    contact = ds.contacts[sample.contact_id]
    assert ticket.summary == sample.summary
    assert ticket.company_psa_id == str(sample.company_id)
    assert ticket.company_name == ds.companies[sample.company_id].name
    assert ticket.board == ds.boards[sample.board_id].name
    assert ticket.status == ds.ticket_statuses[sample.status_id].name
    assert ticket.priority == ds.priorities[sample.priority_id].name
    assert ticket.contact == f"{contact.first_name} {contact.last_name}"
    assert ticket.created_at == sample.created_at.replace(microsecond=0)
    assert ticket.closed == sample.closed


@pytest.mark.no_store
async def test_missing_ticket_is_psa_not_found(harness: Harness) -> None:
    with pytest.raises(PsaNotFound):
        await harness.connector.get_ticket("999999")
    with pytest.raises(PsaInvalidId):
        await harness.connector.get_ticket("12; DROP")


# --- the exact wire ------------------------------------------------------------------------------


async def test_requests_follow_halos_documented_wire_format(harness: Harness) -> None:
    await harness.sync(full=True)
    sim = harness.sim
    token_calls = sim.requests("/auth/token")
    assert len(token_calls) == 1
    assert token_calls[0].method == "POST" and token_calls[0].query == {"tenant": DEMO_TENANT}
    assert token_calls[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sim.state.token_requests == [{"grant_type": "client_credentials",
                                         "client_id": DEMO_CLIENT_ID,
                                         "client_secret": DEMO_CLIENT_SECRET, "scope": "all"}]
    api_calls = [r for r in sim.requests() if r.path.startswith("/api/")]
    token = next(iter(sim.state.tokens))
    assert all(r.method == "GET" for r in api_calls)
    assert all(r.headers["Authorization"] == f"Bearer {token}" for r in api_calls)
    assert all(r.headers["Accept"] == "application/json" for r in api_calls)
    assert {r.path for r in api_calls} == {"/api/Client", "/api/Site", "/api/Asset", "/api/Users",
                                           "/api/Team", "/api/Status", "/api/Priority"}
    assert all(DEMO_CLIENT_SECRET not in str(r.query) for r in sim.requests())
    paged = {"pageinate": "true", "page_size": str(PAGE_SIZE), "order": "id",
             "orderdesc": "false", "includeactive": "true", "includeinactive": "true"}
    extras = {"/api/Client": {}, "/api/Users": {}, "/api/Site": {"includeaddress": "true"},
              "/api/Asset": {"includeassetfields": "true"}}
    for path, extra in extras.items():
        first = sim.requests(path)[0].query
        assert first == {**paged, **extra, "page_no": "1"}, path
    assert sim.requests("/api/Status")[0].query == {"type": "ticket"}
    assert sim.requests("/api/Team")[0].query == {}
    assert sim.requests("/api/Priority")[0].query == {}


async def sync_reading_the_client_list_once(harness: Harness, *, full: bool) -> None:
    """A run reads the client list's first page once (companies and the sites' primary
    flags share it) and marks one primary site per company."""
    harness.sim.clear_requests()
    report = await harness.sync(full=full)
    assert report.outcome == "succeeded"
    first_pages = [q for q in query_of(harness.sim.requests("/api/Client"))
                   if q.get("page_no") == "1" and q.get("page_size") != "1"]
    assert len(first_pages) == 1
    sites = await harness.rows(Entity.SITE)
    assert sum(s["primary"] for s in sites.values()) == harness.ds.count("companies")


class LateCompanyState:
    """The harness's store, answering the companies' sync state a moment late: the sites
    lane then reaches its fetch first, as it can on a busy database server."""

    def __init__(self, store: Any) -> None:
        self._store = store

    async def entity_state(self, integration: str, entity: Entity) -> Any:
        if entity is Entity.COMPANY:
            await asyncio.sleep(0.2)
        return await self._store.entity_state(integration, entity)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_sites_wait_for_this_runs_client_list_when_companies_start_late(
        harness: Harness) -> None:
    harness.engine = SyncEngine(LateCompanyState(harness.store),
                                SyncConfig(cursor_overlap_seconds=0))
    for full in (False, True):  # the first run, then one after it (nothing left over)
        await sync_reading_the_client_list_once(harness, full=full)


async def test_a_full_run_reads_the_client_list_once_for_companies_and_primary_sites(
        harness: Harness) -> None:
    await harness.sync()
    await sync_reading_the_client_list_once(harness, full=True)
