"""The Kaseya BMS (API v2) connector against its simulator on loopback, with a real SQLite file."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import date
from typing import Any

import aiohttp
import pytest

from psad.config import IntegrationConfig
from psad.connectors.kaseya_bms import KaseyaBmsConnector
from psad.engine import RunReport
from psad.errors import PsaInvalidId, PsaNotFound
from psad.http import PsaClient, RetryPolicy
from psad.model import Contact, Entity, TicketQuery
from psad.simulators import kaseya_bms as bms
from psad.simulators.dataset import Dataset
from psad.simulators.faults import Faults
import sim_harness
from sim_harness import HarnessMaker

ASSET_FIELDS = ("Backup", "Last Audit")
CONTACT_FIELDS = ("VIP", "Extension")
ACCOUNTS = "/v2/crm/accounts/summary"
CONTACTS = "/v2/crm/contacts/summary"
PAGE_SIZE = 40


class Sim(sim_harness.Sim):
    @property
    def state(self) -> bms.BmsState:
        return self.app[bms.STATE_KEY]

    def clear_requests(self) -> None:
        super().clear_requests()
        self.state.bodies.clear()


class Harness(sim_harness.Harness[Sim, KaseyaBmsConnector]):
    @property
    def state(self) -> bms.BmsState:
        return self.sim.state

    @property
    def faults(self) -> Faults:
        return self.sim.faults

    @property
    def root(self) -> str:
        return self.sim.root

    def use(self, **overrides: Any) -> None:
        self.connector.integration = replace(self.connector.integration, **overrides)


def generate() -> Dataset:
    ds = Dataset.generate(3, companies=12, sites_per_company=2, assets=120, contacts=60,
                          tickets=30)
    inactive = next(s.id for s in ds.records("company_statuses") if s.inactive)
    company = ds.records("companies")[4]
    ds.update("companies", company.id, status_id=inactive, updated_at=company.updated_at)
    return ds


@pytest.fixture
def start(open_harness: HarnessMaker) -> Callable[..., Any]:
    """Start a simulator (``create_app`` keyword arguments) and a connector on it."""
    async def started(dataset: Dataset | None = None, *, password: str = bms.DEMO_PASSWORD,
                      **app_options: Any) -> Harness:
        def connect(sim: Sim, session: aiohttp.ClientSession) -> KaseyaBmsConnector:
            integration = IntegrationConfig(
                name="acme", kind="kaseya_bms", base_url=sim.base_url,
                settings=dict(bms.SIMULATOR_SETTINGS), asset_custom_fields=ASSET_FIELDS,
                contact_custom_fields=CONTACT_FIELDS, page_size=PAGE_SIZE)
            client = PsaClient(session, "acme",
                               policy=RetryPolicy(max_retries=3, backoff_base=0.01), timeout=5)
            return KaseyaBmsConnector(integration, client, {"password": password})

        app = bms.create_app(dataset or generate(), **app_options)
        made: Harness = await open_harness(app, bms.API_PATH, connect, sim=Sim, harness=Harness)
        return made

    return started


@pytest.fixture
async def harness(start: Callable[..., Any]) -> Harness:
    started: Harness = await start()
    return started


# --- what psad must store, written from the dataset with the vendor's gaps -----------------


def expected(ds: Dataset, entity: Entity) -> dict[str, dict[str, Any]]:
    def address(r: Any) -> dict[str, Any]:
        if r is None:
            return dict.fromkeys(("line1", "line2", "city", "region", "postal_code", "country"))
        return {"line1": r.line1, "line2": r.line2, "city": r.city, "region": r.region,
                "postal_code": r.postal_code, "country": r.country}

    def main_site(company_id: int | None) -> Any:
        sites = [ds.sites[i] for i in ds.children("sites", company_id)] if company_id else []
        return next((s for s in sites if s.primary), sites[0] if sites else None)

    def custom_text(value: Any) -> str | None:
        """BMS returns custom-field data as strings."""
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return value.isoformat() if isinstance(value, date) else str(value)

    inactive = {s.id for s in ds.records("company_statuses") if s.inactive}
    types = {t.id: t.name for t in ds.records("company_types")}
    global_statuses: dict[str, Any] = {}
    for status in ds.records("ticket_statuses"):
        global_statuses.setdefault(status.name.casefold(), status)

    if entity is Entity.COMPANY_STATUS:  # derived from isActive, Active the default
        return {"active": {"name": "Active", "is_default": True},
                "inactive": {"name": "Inactive", "is_default": False}}
    if entity is Entity.TICKET_STATUS:  # global in BMS: one per name, no board
        return {str(s.id): {"name": s.name, "board_psa_id": None, "closed": s.closed,
                            "sort_order": s.sort_order} for s in global_statuses.values()}
    out: dict[Entity, Callable[[Any], dict[str, Any]]] = {
        Entity.COMPANY: lambda c: {
            "name": c.name, "website": c.website,
            "status": "Inactive" if c.status_id in inactive else "Active",
            "types": [types[c.type_ids[0]]] if c.type_ids else []},  # one account type
        Entity.SITE: lambda s: {"company_psa_id": str(s.company_id), "name": s.name,
                                "active": s.active, "primary": s.primary,
                                "address": address(s)},
        Entity.ASSET: lambda a: {
            "company_psa_id": str(a.company_id) if a.company_id else None, "name": a.name,
            "status": a.status, "type": a.type,
            "purchase_date": a.purchase_date.isoformat() if a.purchase_date else None,
            "warranty_expiration": a.warranty_expiration.isoformat()
            if a.warranty_expiration else None,
            "serial_number": a.serial_number, "os_type": a.os_type, "notes": a.notes,
            "manufacturer": a.manufacturer,
            "custom_fields": dict.fromkeys(ASSET_FIELDS)},  # no custom fields on BMS assets
        Entity.CONTACT: lambda c: {
            "company_psa_id": str(c.company_id) if c.company_id else None,
            "first_name": c.first_name, "last_name": c.last_name,
            "type": "Point of Contact" if c.type == "Decision Maker" else None,  # isPoc only
            "title": c.title, "email": c.email, "phone": c.phone,
            "address": address(main_site(c.company_id)),  # the contact's location
            "active": c.active,
            "custom_fields": {n: custom_text(c.custom_fields.get(n)) for n in CONTACT_FIELDS}},
        Entity.BOARD: lambda b: {"name": b.name, "active": b.active},
        Entity.PRIORITY: lambda p: {"name": p.name, "sort_order": None},  # no order in BMS
    }
    return {str(r.id): out[entity](r) for r in ds.records(entity.value)}


def stored(rows: dict[str, dict[str, Any]], keys: list[str]) -> dict[str, dict[str, Any]]:
    return {pid: {k: row[k] for k in keys} for pid, row in rows.items()}


def by_entity(report: RunReport) -> dict[Entity, Any]:
    return {r.entity: r for r in report.entities}


# --- sync -------------------------------------------------------------------------------


async def test_full_sync_stores_exactly_the_psa_data_field_by_field(harness: Harness) -> None:
    report = await harness.sync()
    assert report.outcome == "succeeded", report.error
    for entity in Entity:
        want = expected(harness.ds, entity)
        got = stored(await harness.rows(entity), list(next(iter(want.values()))))
        assert got == want, entity
    for asset in (await harness.rows(Entity.ASSET)).values():
        assert set(asset["custom_fields"]) == set(ASSET_FIELDS)  # only the selected ones
    for contact in (await harness.rows(Entity.CONTACT)).values():
        assert set(contact["custom_fields"]) == set(CONTACT_FIELDS)


async def test_upstream_changes_are_updated_created_and_soft_deleted(harness: Harness) -> None:
    await harness.sync()
    ds = harness.ds
    asset_ids, contact_ids = list(ds.ids("assets")), list(ds.ids("contacts"))
    company_id = ds.ids("companies")[0]
    ds.update("assets", asset_ids[0], notes="moved to rack 9", serial_number="NEW-SN")
    new_asset = ds.add("assets", company_id=company_id, name="NEW-PC", status="Active",
                       type="Workstation")
    ds.delete("assets", asset_ids[1])
    ds.update("companies", ds.ids("companies")[2], name="Renamed Ltd")
    new_contact = ds.add("contacts", company_id=company_id, first_name="Nia", last_name="Obi",
                         title="Director", active=True)
    ds.delete("contacts", contact_ids[3])
    branch = next(i for i in ds.children("sites", company_id) if not ds.sites[i].primary)
    ds.update("sites", branch, name="Annex 9")

    report = await harness.sync()
    results = by_entity(report)
    assert report.outcome == "succeeded", report.error
    assets, contacts = results[Entity.ASSET], results[Entity.CONTACT]
    assert (assets.created, assets.updated, assets.deleted) == (1, 1, 1)
    assert (contacts.mode, contacts.created, contacts.deleted) == ("incremental", 1, 1)
    assert results[Entity.COMPANY].updated == 1 and results[Entity.SITE].updated == 1
    rows = await harness.rows(Entity.ASSET, live=False)
    assert rows[str(asset_ids[0])]["notes"] == "moved to rack 9"
    assert rows[str(new_asset.id)]["name"] == "NEW-PC"
    assert rows[str(asset_ids[1])]["deleted_at"] is not None  # kept, marked deleted
    people = await harness.rows(Entity.CONTACT, live=False)
    assert people[str(new_contact.id)]["title"] == "Director"
    assert people[str(contact_ids[3])]["deleted_at"] is not None
    assert (await harness.rows(Entity.SITE))[str(branch)]["name"] == "Annex 9"


async def test_incremental_sync_sends_modified_on_from_and_fetches_only_changes(
        harness: Harness) -> None:
    await harness.sync()
    ds = harness.ds
    ds.update("contacts", ds.ids("contacts")[5], title="Chief Everything")
    harness.clear_requests()
    report = await harness.sync()
    results = by_entity(report)
    contacts = results[Entity.CONTACT]
    assert (contacts.mode, contacts.fetched, contacts.updated) == ("incremental", 1, 1)
    assert (results[Entity.COMPANY].mode, results[Entity.COMPANY].fetched) == ("incremental", 0)
    for path in (CONTACTS, ACCOUNTS):
        sent = [r.query.get("Filter.ModifiedOnFrom") for r in harness.requests(path)]
        assert any(s and s.endswith("Z") for s in sent), path
    # the deletion sweep lists ids cheaply, inactive accounts included
    lookups = harness.requests("/v2/crm/accounts/lookup")
    assert lookups and all(r.query["Filter.WithInactiveAccounts"] == "true" for r in lookups)
    assert harness.requests("/v2/crm/contacts/search")
    assert results[Entity.COMPANY].deleted == 0  # the inactive account was seen, not swept
    # only the changed contact's custom fields are read
    custom = [r for r in harness.requests() if r.path.startswith("/v2/system/customFields/")]
    assert [r.path for r in custom] == [f"/v2/system/customFields/2/{ds.ids('contacts')[5]}"]


def detail_ids(harness: Harness) -> set[int]:
    return {int(r.path.rsplit("/", 1)[1]) for r in harness.requests()
            if r.path.startswith("/v2/servicedesk/hardwareasset/") and r.path[-1].isdigit()}


async def test_a_run_reads_details_only_for_new_changed_and_due_assets(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    ds = harness.ds
    harness.connector.today = lambda: date(2026, 3, 2)
    await harness.sync()
    renamed, added = ds.ids("assets")[3], ds.add("assets", name="NEW-BOX", company_id=ds.ids(
        "companies")[0])
    ds.update("assets", renamed, name="RENAMED-BOX")
    harness.clear_requests()
    with caplog.at_level(logging.INFO, logger="psad.connectors.kaseya_bms"):
        report = await harness.sync()
    assets = by_entity(report)[Entity.ASSET]
    assert assets.mode == "full" and assets.fetched == ds.count("assets")
    assert assets.deleted == 0 and assets.created == 1
    read = detail_ids(harness)
    assert {renamed, added.id} <= read
    assert 0 < len(read) < ds.count("assets") // 3  # a seventh is due, plus the two
    rows = await harness.rows(Entity.ASSET)
    assert len(rows) == ds.count("assets") and rows[str(renamed)]["name"] == "RENAMED-BOX"
    assert any("2 new or changed" in m and "deferred" in m for m in caplog.messages)


async def test_every_asset_is_re_read_within_the_refresh_days(harness: Harness) -> None:
    ds = harness.ds
    await harness.sync()
    quiet = ds.ids("assets")[5]
    ds.update("assets", quiet, notes="a change the list row does not show")
    read: set[int] = set()
    for day in range(7):
        harness.connector.today = lambda day=day: date(2026, 3, 2 + day)
        harness.clear_requests()
        await harness.sync()
        read |= detail_ids(harness)
    assert read == set(ds.ids("assets"))
    rows = await harness.rows(Entity.ASSET)
    assert rows[str(quiet)]["notes"] == "a change the list row does not show"


async def test_requests_follow_the_documented_wire_format(harness: Harness) -> None:
    ds = harness.ds
    await harness.sync(full=True)
    calls = harness.requests()
    sign_in = calls[0]
    assert (sign_in.method, sign_in.path) == ("POST", "/v2/security/authenticate")
    assert sign_in.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert "Authorization" not in sign_in.headers
    form = harness.state.bodies[0]
    assert form.body == {"GrantType": "password", "UserName": bms.DEMO_USERNAME,
                         "Password": bms.DEMO_PASSWORD, "Tenant": bms.DEMO_TENANT}
    assert len(harness.requests("/v2/security/authenticate")) == 1  # the token is reused
    (token,) = harness.state.sessions
    for call in calls[1:]:
        assert call.method == "GET" and call.path.startswith("/v2/"), call
        assert call.headers["Authorization"] == f"Bearer {token}"
        assert call.headers["Accept"] == "application/json"
    accounts = harness.requests(ACCOUNTS)
    assert [r.query for r in accounts[:2]] == [{"PageNumber": "1", "PageSize": str(PAGE_SIZE)},
                                               {"PageNumber": "1", "PageSize": str(PAGE_SIZE)}]
    assert {r.path for r in calls} >= {
        ACCOUNTS, CONTACTS, "/v2/servicedesk/hardwareasset/searchselect",
        f"/v2/servicedesk/hardwareasset/{ds.ids('assets')[0]}", "/v2/system/queues/lookup",
        "/v2/system/priorities/lookup", "/v2/system/statuses/lookup"}
    for lookup in ("queues", "priorities", "statuses"):
        assert all(r.query == {} for r in harness.requests(f"/v2/system/{lookup}/lookup"))
    pages = [int(r.query["PageNumber"]) for r in harness.requests(CONTACTS)]
    assert pages == [1, 2]  # 60 contacts, 40 a page; ends at totalRecords

    harness.clear_requests()
    board, status, priority = ds.records("boards")[0], ds.records("ticket_statuses")[1], \
        ds.records("priorities")[2]
    await harness.connector.list_tickets(TicketQuery(
        company=str(ds.ids("companies")[0]), board=str(board.id), status=str(status.id),
        priority=str(priority.id), text=" printer ", page=2, page_size=5))
    search = [b for b in harness.state.bodies if b.path == "/v2/servicedesk/tickets/search"]
    assert search[0].content_type == "application/json"
    assert search[0].body == {"PageSize": 5, "PageNumber": 2, "Filter": {
        "AccountIds": str(ds.ids("companies")[0]), "QueueNames": board.name,
        "StatusNames": status.name, "PriorityNames": priority.name, "Title": "printer"}}
    assert harness.requests("/v2/servicedesk/tickets/search")[0].method == "POST"


@pytest.mark.no_store
async def test_contacts_read_alone_look_up_their_locations(harness: Harness) -> None:
    ds = harness.ds
    found = [r async for page in harness.connector.fetch(Entity.CONTACT) for r in page.records
             if isinstance(r, Contact)]
    want = expected(ds, Entity.CONTACT)
    assert len(found) == ds.count("contacts")
    assert {c.psa_id: asdict(c.address) for c in found} == {
        pid: w["address"] for pid, w in want.items()}
    locations = [r for r in harness.requests() if "/locations/" in r.path]
    assert 0 < len(locations) <= ds.count("companies")  # one call per location, then cached


async def test_no_custom_field_calls_when_none_are_selected(harness: Harness) -> None:
    harness.use(contact_custom_fields=())
    report = await harness.sync()
    assert report.outcome == "succeeded"
    assert not [r for r in harness.requests() if "customFields" in r.path]
    contact = next(iter((await harness.rows(Entity.CONTACT)).values()))
    assert contact["custom_fields"] == {}


async def test_malformed_record_is_rejected_alone(harness: Harness) -> None:
    ds = harness.ds
    bad_asset, bad_contact = ds.ids("assets")[7], ds.ids("contacts")[3]
    ds.corrupt("assets", bad_asset, "name", None)
    ds.corrupt("contacts", bad_contact, "purchaseDate", "x")  # an unused key: still fine
    ds.corrupt("contacts", bad_contact, "isActive", "maybe")
    report = await harness.sync()
    assert report.outcome == "partial"
    results = by_entity(report)
    assert (results[Entity.ASSET].rejected, results[Entity.ASSET].created) == (1, 119)
    assert (results[Entity.CONTACT].rejected, results[Entity.CONTACT].created) == (1, 59)
    run = (await harness.store.get_run(report.run_id)).to_json()
    assert run is not None
    reasons = {(e["entity"], e["psa_id"]): e["message"] for e in run["errors"]}
    assert "name" in reasons[("assets", str(bad_asset))]
    assert "isActive" in reasons[("contacts", str(bad_contact))]


# --- auth ----------------------------------------------------------------------------------


class Clock:
    """The simulator's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def test_expired_access_token_is_renewed_with_the_refresh_token(
        start: Callable[..., Any]) -> None:
    clock = Clock()
    harness: Harness = await start(clock=clock, token_lifetime=600.0)
    await harness.sync()
    clock.offset = 601.0  # the server sees the token expire; psad's own clock does not
    harness.clear_requests()
    report = await harness.sync()
    assert report.outcome == "succeeded", report.error
    assert harness.state.refused >= 1  # a 401 (one per request in flight), then...
    assert len(harness.requests("/v2/security/refreshtoken")) == 1  # ...one renewal for all
    assert harness.state.issued == 2
    assert not harness.requests("/v2/security/authenticate")
    assert harness.state.bodies[0].body.keys() == {"AccessToken", "RefreshToken"}
    assert harness.connector.auth.refreshes == 1


async def test_revoked_session_signs_in_again(harness: Harness) -> None:
    await harness.sync()
    harness.state.revoke_all()
    harness.clear_requests()
    report = await harness.sync()
    assert report.outcome == "succeeded", report.error
    assert len(harness.requests("/v2/security/refreshtoken")) == 1  # refused: session gone
    assert len(harness.requests("/v2/security/authenticate")) == 1
    assert harness.connector.auth.sign_ins == 2


@pytest.mark.no_store
async def test_short_lived_token_is_renewed_before_it_expires(start: Callable[..., Any]) -> None:
    harness: Harness = await start(token_lifetime=1.0)
    await harness.connector.list_tickets(TicketQuery())
    await asyncio.sleep(1.0)
    await harness.connector.list_tickets(TicketQuery())
    assert harness.state.refused == 0  # renewed ahead of expiry, never refused
    assert harness.state.issued == 2


async def test_bad_credentials_fail_the_run_with_the_vendor_message(
        start: Callable[..., Any]) -> None:
    harness: Harness = await start(password="wrong")
    report = await harness.sync()
    assert report.outcome == "failed"
    assert report.error and "Invalid user name, password or company name" in report.error
    assert not harness.requests(ACCOUNTS)


# --- envelope, errors and throttling ---------------------------------------------------------


async def test_success_false_envelope_fails_the_entity_with_the_vendor_message(
        harness: Harness) -> None:
    harness.faults.status(ACCOUNTS, 200, count=None)  # HTTP 200, success: false
    report = await harness.sync()
    assert report.outcome == "failed"
    run = (await harness.store.get_run(report.run_id)).to_json()
    assert run is not None
    messages = [e["message"] for e in run["errors"] if e["entity"] == "companies"]
    assert messages and "BMS reported a failure (code 200)" in messages[0]
    assert by_entity(report)[Entity.ASSET].created == harness.ds.count("assets")  # others go on


async def test_server_errors_are_retried_with_the_envelope(harness: Harness) -> None:
    harness.faults.status(ACCOUNTS, 503, count=2)
    report = await harness.sync()
    assert report.outcome == "succeeded", report.error
    assert len(harness.requests(ACCOUNTS)) >= 3


@pytest.mark.no_store
async def test_hourly_endpoint_limit_answers_429_and_the_client_backs_off(
        start: Callable[..., Any]) -> None:
    harness: Harness = await start(hourly_limit=2, rate_window=1.0)
    started = time.monotonic()
    pages = [await harness.connector.list_tickets(TicketQuery()) for _ in range(3)]
    assert all(len(p.tickets) == 25 for p in pages)
    assert harness.state.throttled == 1  # the third call in the window was refused once
    assert time.monotonic() - started >= 0.5  # and waited out Retry-After
    assert len(harness.requests("/v2/servicedesk/tickets/search")) == 4


@pytest.mark.no_store
async def test_throttled_answer_is_plain_text_with_retry_after(start: Callable[..., Any]) -> None:
    harness: Harness = await start(hourly_limit=1)
    url, session = harness.root + "/v2/system/queues/lookup", harness.session
    async with session.get(url) as first:
        assert first.status == 401  # counted, then refused: no token
    async with session.get(url) as second:
        assert second.status == 429
        assert int(second.headers["Retry-After"]) > 3000
        assert "quota exceeded" in await second.text()


# --- live tickets ------------------------------------------------------------------------------


@pytest.mark.no_store
async def test_live_tickets_are_listed_filtered_paged_and_fetched(harness: Harness) -> None:
    ds, connector = harness.ds, harness.connector
    first = await connector.list_tickets(TicketQuery(page=1, page_size=10))
    second = await connector.list_tickets(TicketQuery(page=2, page_size=10))
    last = await connector.list_tickets(TicketQuery(page=3, page_size=10))
    assert (first.has_more, second.has_more, last.has_more) == (True, True, False)
    assert first.total == ds.count("tickets")
    ids = [t.psa_id for p in (first, second, last) for t in p.tickets]
    assert sorted(ids, key=int) == [str(i) for i in ds.ids("tickets")]  # disjoint, complete

    sample = ds.records("tickets")[0]
    board = ds.boards[sample.board_id]
    priority = ds.priorities[sample.priority_id]
    name = ds.ticket_statuses[sample.status_id].name  # BMS statuses are global, one per name
    status = next(s for s in ds.records("ticket_statuses") if s.name == name)
    page = await connector.list_tickets(TicketQuery(
        company=str(sample.company_id), board=str(board.id), status=str(status.id),
        priority=str(priority.id)))
    assert sample.id in {int(t.psa_id) for t in page.tickets}
    for ticket in page.tickets:
        assert ticket.company_psa_id == str(sample.company_id)
        assert (ticket.board, ticket.status, ticket.priority) == (board.name, status.name,
                                                                  priority.name)
    word = sample.summary.split()[0]
    texts = await connector.list_tickets(TicketQuery(text=word.upper(), page_size=100))
    assert texts.tickets and all(word.lower() in t.summary.lower() for t in texts.tickets)

    ticket = await connector.get_ticket(str(sample.id))
    company = ds.companies[sample.company_id]
    assert (ticket.summary, ticket.company_name, ticket.closed) == (sample.summary, company.name,
                                                                    sample.closed)
    assert (ticket.created_at, ticket.updated_at) == (sample.created_at, sample.updated_at)
    assert ticket.url == f"{harness.root}/MSP/TicketEdit.aspx?ID={sample.id}"


@pytest.mark.no_store
async def test_missing_ticket_raises_not_found(harness: Harness) -> None:
    with pytest.raises(PsaNotFound):
        await harness.connector.get_ticket("999999")


@pytest.mark.parametrize("query", [
    TicketQuery(company="acme"), TicketQuery(board="x1"), TicketQuery(status="999"),
    TicketQuery(priority="-1")])
@pytest.mark.no_store
async def test_ticket_filter_ids_bms_cannot_have_raise_invalid_id(
        harness: Harness, query: TicketQuery) -> None:
    with pytest.raises(PsaInvalidId):
        await harness.connector.list_tickets(query)


@pytest.mark.parametrize("query", [
    TicketQuery(page=0), TicketQuery(page_size=0), TicketQuery(page_size=10_000)])
@pytest.mark.no_store
async def test_ticket_pages_out_of_range_raise_value_error(harness: Harness,
                                                           query: TicketQuery) -> None:
    with pytest.raises(ValueError):
        await harness.connector.list_tickets(query)


@pytest.mark.no_store
async def test_ticket_id_must_be_numeric(harness: Harness) -> None:
    with pytest.raises(PsaInvalidId):
        await harness.connector.get_ticket("12; drop")


def test_simulator_settings_make_a_complete_integration() -> None:
    names = {s.name for s in KaseyaBmsConnector.settings}
    required = {s.name for s in KaseyaBmsConnector.settings if s.required}
    secrets = {s.name for s in KaseyaBmsConnector.settings if s.secret}
    assert required <= set(bms.SIMULATOR_SETTINGS) | set(bms.SIMULATOR_SECRETS)
    assert set(bms.SIMULATOR_SECRETS) == secrets and set(bms.SIMULATOR_SETTINGS) <= names - secrets
