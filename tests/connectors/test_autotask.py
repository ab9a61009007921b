"""The Autotask connector against the Autotask simulator on loopback, with a real SQLite file."""

from __future__ import annotations

import json
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from conftest import FakeClock
from psad.config import IntegrationConfig
from psad.connectors.autotask import AutotaskConnector, zone_allowed
from psad.errors import PsaAuthError, PsaInvalidId, PsaNotFound
from psad.http import PsaClient, RetryPolicy
from psad.model import Entity, TicketQuery
from psad.simulators import REQUEST_LOG_KEY
from psad.simulators.autotask import (
    API_PATH,
    DEMO_INTEGRATION_CODE,
    DEMO_SECRET,
    DEMO_USERNAME,
    SIMULATOR_SECRETS,
    SIMULATOR_SETTINGS,
    STATE_KEY,
    AtState,
    create_app,
    status_ids,
    ticket_number,
)
from psad.simulators.dataset import Dataset
import sim_harness
from sim_harness import HarnessMaker

ASSET_FIELDS = ("Backup", "Last Audit", "Cost Centre")
CONTACT_FIELDS = ("VIP", "Extension")
ZONE = "/webservices5/ATServicesRest/V1.0"
AUTH = {"ApiIntegrationCode": DEMO_INTEGRATION_CODE, "UserName": DEMO_USERNAME,
        "Secret": DEMO_SECRET}
ALL = [{"op": "gte", "field": "id", "value": 0}]


class Sim(sim_harness.Sim):
    @property
    def state(self) -> AtState:
        return self.app[STATE_KEY]

    def clear(self) -> None:
        self.clear_requests()
        self.state.bodies.clear()


def dataset() -> Dataset:
    return Dataset.generate(3, companies=12, sites_per_company=2, assets=150, contacts=60,
                            tickets=30)


class Harness(sim_harness.Harness[Sim, AutotaskConnector]):
    def connect(self, policy: RetryPolicy | None = None, **overrides: Any) -> AutotaskConnector:
        """A fresh connector on its own client, ``overrides`` applied to the integration."""
        return connect(self.sim, self.session, policy, **overrides)


def connect(sim: Sim, session: aiohttp.ClientSession, policy: RetryPolicy | None = None,
            **overrides: Any) -> AutotaskConnector:
    client = PsaClient(session, "acme", timeout=5,
                       policy=policy or RetryPolicy(max_retries=2, backoff_base=0.01))
    secrets = {**SIMULATOR_SECRETS, **overrides.pop("secrets", {})}
    return AutotaskConnector(integration_for(sim, **overrides), client, secrets)


def integration_for(sim: Sim, **overrides: Any) -> IntegrationConfig:
    settings = {**SIMULATOR_SETTINGS, **overrides.pop("settings", {})}
    base = IntegrationConfig(
        name="acme", kind="autotask", base_url=sim.base_url, settings=settings,
        asset_custom_fields=ASSET_FIELDS, contact_custom_fields=CONTACT_FIELDS, page_size=40)
    return replace(base, **overrides)


HarnessFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
def make_harness(open_harness: HarnessMaker) -> HarnessFactory:
    async def make(**app_options: Any) -> Harness:
        made: Harness = await open_harness(create_app(dataset(), **app_options), API_PATH,
                                           connect, sim=Sim, harness=Harness)
        return made

    return make


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> Harness:
    return await make_harness()


# --- what psad must store ------------------------------------------------------------------------


def _custom(values: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Autotask's view of the dataset's custom fields: check boxes are Yes/No list UDFs."""
    out: dict[str, Any] = {}
    for name in names:
        value = values.get(name)
        if isinstance(value, bool):
            value = "Yes" if value else "No"
        elif isinstance(value, date):
            value = value.isoformat()
        out[name] = value
    return out


def expected(ds: Dataset, entity: Entity) -> dict[str, dict[str, Any]]:
    """What psad must store, from the dataset, with Autotask's gaps explicit."""
    def address(r: Any) -> dict[str, Any]:
        return {"line1": r.line1, "line2": r.line2, "city": r.city, "region": r.region,
                "postal_code": r.postal_code, "country": r.country}

    def company_status(c: Any) -> str:
        status = ds.company_statuses.get(c.status_id)
        return "Inactive" if status is not None and status.inactive else "Active"

    types = {t.id: t.name for t in ds.records("company_types")}
    if entity is Entity.COMPANY_STATUS:  # no status entity: derived from isActive
        return {"active": {"name": "Active", "is_default": True},
                "inactive": {"name": "Inactive", "is_default": False}}
    if entity is Entity.TICKET_STATUS:  # statuses are global: one per name, no board
        return {str(value): {"name": name, "board_psa_id": None,
                             "closed": ds.ticket_statuses[value].closed,
                             "sort_order": ds.ticket_statuses[value].sort_order}
                for name, value in status_ids(ds).items()}
    out: dict[Entity, Any] = {
        Entity.COMPANY: lambda c: {  # one companyType per company
            "name": c.name, "website": c.website, "status": company_status(c),
            "types": [types[c.type_ids[0]]] if c.type_ids else []},
        Entity.SITE: lambda s: {"company_psa_id": str(s.company_id), "name": s.name,
                                "active": s.active, "primary": s.primary,
                                "address": address(s)},
        Entity.ASSET: lambda a: {  # status is only isActive; purchase date from a UDF
            "company_psa_id": str(a.company_id) if a.company_id is not None else None,
            "name": a.name,
            "status": "Inactive" if a.status in ("Inactive", "Retired") else "Active",
            "type": a.type,
            "purchase_date": a.purchase_date.isoformat() if a.purchase_date else None,
            "warranty_expiration": a.warranty_expiration.isoformat()
            if a.warranty_expiration else None,
            "serial_number": a.serial_number, "os_type": a.os_type, "notes": a.notes,
            "manufacturer": a.manufacturer,
            "custom_fields": _custom(a.custom_fields, ASSET_FIELDS)},
        Entity.CONTACT: lambda c: {  # no contact type in Autotask
            "company_psa_id": str(c.company_id) if c.company_id is not None else None,
            "first_name": c.first_name, "last_name": c.last_name, "type": None,
            "title": c.title, "email": c.email, "phone": c.phone, "address": address(c),
            "active": c.active, "custom_fields": _custom(c.custom_fields, CONTACT_FIELDS)},
        Entity.BOARD: lambda b: {"name": b.name, "active": b.active},
        Entity.PRIORITY: lambda p: {"name": p.name, "sort_order": p.sort_order},
    }
    return {str(r.id): out[entity](r) for r in ds.records(entity.value)}


def stored(rows: dict[str, dict[str, Any]], keys: list[str]) -> dict[str, dict[str, Any]]:
    return {pid: {k: row[k] for k in keys} for pid, row in rows.items()}


def bodies(sim: Sim, suffix: str) -> list[tuple[str, Any]]:
    return [(path, body) for method, path, body in sim.state.bodies if path.endswith(suffix)]


# --- sync ----------------------------------------------------------------------------------------


async def test_full_sync_stores_exactly_the_dataset_field_by_field(harness: Harness) -> None:
    report = await harness.sync()
    assert report.outcome == "succeeded", report.error
    for entity in Entity:
        want = expected(harness.ds, entity)
        got = stored(await harness.rows(entity), list(next(iter(want.values()))))
        assert got == want, entity
    asset = next(iter((await harness.rows(Entity.ASSET)).values()))
    assert set(asset["custom_fields"]) == set(ASSET_FIELDS)  # only the selected ones
    contact = next(iter((await harness.rows(Entity.CONTACT)).values()))
    assert set(contact["custom_fields"]) == set(CONTACT_FIELDS)


async def test_upstream_changes_are_updated_created_and_soft_deleted(harness: Harness) -> None:
    await harness.sync()
    ds = harness.ds
    asset_ids = list(ds.ids("assets"))
    ds.update("assets", asset_ids[0], notes="moved to rack 9", serial_number="NEW-SN")
    added = ds.add("assets", company_id=ds.ids("companies")[0], name="NEW-PC", status="Active",
                   type="Workstation", manufacturer="Lenovo")
    ds.delete("assets", asset_ids[1])
    ds.update("companies", ds.ids("companies")[2], name="Renamed Ltd")
    ds.update("sites", ds.ids("sites")[3], name="Moved Office")
    report = await harness.sync()
    by_entity = {r.entity: r for r in report.entities}
    assets = by_entity[Entity.ASSET]
    assert (assets.created, assets.updated, assets.deleted) == (1, 1, 1)
    assert by_entity[Entity.COMPANY].updated == 1
    assert by_entity[Entity.SITE].updated == 1 and by_entity[Entity.SITE].mode == "full"
    rows = await harness.rows(Entity.ASSET, live=False)
    assert rows[str(asset_ids[0])]["notes"] == "moved to rack 9"
    assert rows[str(added.id)]["name"] == "NEW-PC"
    assert rows[str(added.id)]["manufacturer"] == "Lenovo"
    assert rows[str(asset_ids[1])]["deleted_at"] is not None
    live = await harness.rows(Entity.ASSET)
    assert str(asset_ids[1]) not in live and len(live) == ds.count("assets")


async def test_incremental_sync_sends_the_changed_since_filter_and_fetches_only_changes(
        harness: Harness) -> None:
    await harness.sync()
    ds = harness.ds
    ds.update("contacts", ds.ids("contacts")[5], title="Chief Everything")
    harness.sim.clear()
    report = await harness.sync()
    results = {r.entity: r for r in report.entities}
    contacts = results[Entity.CONTACT]
    assert contacts.mode == "incremental" and contacts.fetched == 1 and contacts.updated == 1
    assert results[Entity.ASSET].mode == "incremental" and results[Entity.ASSET].fetched == 0
    assert results[Entity.COMPANY].mode == "incremental" and results[Entity.COMPANY].fetched == 0
    sent = [body for _, body in bodies(harness.sim, "/Contacts/query")]
    changed = [b for b in sent if "IncludeFields" not in b]
    assert changed and changed[0]["filter"][0]["op"] == "or"
    assert {t["field"] for t in changed[0]["filter"][0]["items"]} == {
        "lastModifiedDate", "lastActivityDate"}
    assert all(t["op"] == "gt" and t["value"].endswith("Z")
               for t in changed[0]["filter"][0]["items"])
    # nothing was deleted: one count over everything, no id listing
    assert not [b for b in sent if "IncludeFields" in b]
    assert ALL in [body["filter"] for _, body in bodies(harness.sim, "/Contacts/query/count")]
    assets = [body for _, body in bodies(harness.sim, "/ConfigurationItems/query")]
    assert assets[0]["filter"][0] == {"op": "gt", "field": "lastModifiedTime",
                                      "value": assets[0]["filter"][0]["value"]}
    sites = [body for _, body in bodies(harness.sim, "/CompanyLocations/query")]
    assert sites and all(b["filter"] == ALL for b in sites)  # no change filter for locations


async def test_malformed_record_is_rejected_alone(harness: Harness) -> None:
    ds = harness.ds
    bad_asset, bad_contact = ds.ids("assets")[7], ds.ids("contacts")[3]
    ds.corrupt("assets", bad_asset, "referenceTitle", None)
    ds.corrupt("contacts", bad_contact, "isActive", "maybe")
    ds.corrupt("contacts", ds.ids("contacts")[4], "purchaseDate", "x")  # unknown key: harmless
    report = await harness.sync()
    assert report.outcome == "partial"
    results = {r.entity: r for r in report.entities}
    assert results[Entity.ASSET].rejected == 1 and results[Entity.ASSET].created == 149
    assert results[Entity.CONTACT].rejected == 1 and results[Entity.CONTACT].created == 59
    run = (await harness.store.get_run(report.run_id)).to_json()
    assert run is not None
    reasons = {(e["entity"], e["psa_id"]): e["message"] for e in run["errors"]}
    assert "referenceTitle" in reasons[("assets", str(bad_asset))]
    assert "isActive" in reasons[("contacts", str(bad_contact))]


# --- wire format 


async def test_requests_match_the_documented_wire_format(harness: Harness) -> None:
    harness.sim.clear()
    report = await harness.sync(full=True)
    assert report.outcome == "succeeded"
    calls = harness.sim.requests()
    zone_lookups = [r for r in calls if r.path == "/ATServicesRest/V1.0/zoneInformation"]
    assert len(zone_lookups) == 1 and zone_lookups[0].query == {"user": DEMO_USERNAME}
    assert "Secret" not in zone_lookups[0].headers  # discovery needs no credentials
    api = [r for r in calls if r is not zone_lookups[0]]
    assert api and all(r.path.startswith(ZONE + "/") for r in api)
    for r in api:
        assert {k: r.headers.get(k) for k in AUTH} == AUTH
        assert r.headers.get("Content-Type", "").startswith("application/json")
    assert api[0].method == "GET" and api[0].path == ZONE + "/ThresholdInformation"
    assert {(r.method, r.path) for r in api} >= {
        ("GET", ZONE + "/Companies/entityInformation/fields"),
        ("GET", ZONE + "/Tickets/entityInformation/fields"),
        ("GET", ZONE + "/ConfigurationItems/entityInformation/userDefinedFields"),
        ("GET", ZONE + "/Contacts/entityInformation/userDefinedFields"),
        ("POST", ZONE + "/Countries/query"),
        ("POST", ZONE + "/ConfigurationItemTypes/query"),
        ("POST", ZONE + "/Products/query")}
    # 150 CIs at MaxRecords 40: one query, a count of what is left (too little to split),
    # then nextPageUrl POSTed with the very same body
    posts = [(p, b) for _, p, b in harness.sim.state.bodies
             if "/ConfigurationItems/" in p and not p.endswith("/count")]
    assert [p.rsplit("/", 1)[-1] for p, _ in posts] == ["query", "next", "next", "next"]
    assert all(b == {"MaxRecords": 40, "filter": ALL} for _, b in posts)
    nexts = [r for r in api if r.path == ZONE + "/ConfigurationItems/query/next"]
    assert len(nexts) == 3 and all(r.method == "POST" and "paging" in r.query for r in nexts)
    products = [b for _, p, b in harness.sim.state.bodies if "/Products/" in p]
    assert products and products[0]["filter"][0]["op"] == "in"
    assert products[0]["IncludeFields"] == ["id", "manufacturerName"]


async def test_a_long_list_is_read_as_three_id_ranges_at_once(harness: Harness) -> None:
    harness.connector = harness.connect(page_size=10)
    harness.sim.clear()
    report = await harness.sync(full=True)
    assert report.outcome == "succeeded"
    assert (await harness.rows(Entity.ASSET)).keys() == {str(i) for i in harness.ds.ids("assets")}
    posts = [(p.removeprefix(ZONE + "/ConfigurationItems/"), b)
             for _, p, b in harness.sim.state.bodies if "/ConfigurationItems/" in p]
    # the count goes out beside the first page, not after it
    assert sorted(posts[:2], key=str) == [("query", {"MaxRecords": 10, "filter": ALL}),
                                          ("query/count", {"filter": ALL})]
    first_page = sorted(harness.ds.ids("assets"))[:10]
    ranges = [b["filter"][1:] for p, b in posts[2:] if p == "query"]
    assert len(ranges) == 3
    assert ranges[0][0] == {"op": "gt", "field": "id", "value": first_page[-1]}
    assert ranges[0][1]["op"] == "lte" and ranges[1][0]["value"] == ranges[0][1]["value"]
    assert ranges[2] == [{"op": "gt", "field": "id", "value": ranges[1][1]["value"]}]
    for bounds in ranges:  # each range follows its own nextPageUrl with its own body
        body = {"MaxRecords": 10, "filter": [*ALL, *bounds]}
        assert ("query", body) in posts
    nexts = [b for p, b in posts if p == "query/next"]
    assert all(b in [{"MaxRecords": 10, "filter": [*ALL, *r]} for r in ranges] for b in nexts)
    assert len(posts) <= 2 + 15 + 2  # 150 records: the pages, the count, two short pages


async def test_a_refused_count_leaves_the_list_one_chain(harness: Harness) -> None:
    harness.connector = harness.connect(page_size=10)
    harness.sim.faults.status(ZONE + "/ConfigurationItems/query/count", 404, count=1)
    harness.sim.clear()
    report = await harness.sync(full=True)
    assert report.outcome == "succeeded"
    assert (await harness.rows(Entity.ASSET)).keys() == {str(i) for i in harness.ds.ids("assets")}
    posts = [r.path.rsplit("/ConfigurationItems/", 1)[-1] for r in harness.sim.requests()
             if "/ConfigurationItems/query" in r.path]
    assert sorted(posts[:2]) == ["query", "query/count"] and set(posts[2:]) == {"query/next"}


async def test_a_synced_list_of_one_page_costs_one_query_and_a_count(harness: Harness) -> None:
    harness.connector = harness.connect(page_size=500)
    harness.sim.clear()
    await harness.sync(full=True)
    posts = [p for _, p, _ in harness.sim.state.bodies if "/ConfigurationItems/" in p]
    assert sorted(posts) == [ZONE + "/ConfigurationItems/query",
                             ZONE + "/ConfigurationItems/query/count"]
    lookups = [p for _, p, _ in harness.sim.state.bodies if "/Countries/" in p]
    assert lookups == [ZONE + "/Countries/query"]  # a lookup list asks no count for one page


@pytest.mark.no_store
async def test_next_page_url_must_be_posted_with_the_query_body(harness: Harness) -> None:
    url = harness.sim.root + ZONE + "/Contacts/query"
    async with harness.session.post(url, json={"MaxRecords": 25, "filter": ALL},
                                    headers=AUTH) as resp:
        first = await resp.json()
    next_url = first["pageDetails"]["nextPageUrl"]
    assert len(first["items"]) == 25 and "/Contacts/query/next?paging=" in next_url
    assert [i["id"] for i in first["items"]] == sorted(i["id"] for i in first["items"])
    async with harness.session.get(next_url, headers=AUTH) as resp:
        assert resp.status == 405
        assert "does not support http method 'GET'" in (await resp.json())["Message"]
    async with harness.session.post(next_url, json={}, headers=AUTH) as resp:
        assert resp.status == 500 and (await resp.json())["errors"]
    async with harness.session.post(next_url, json={"MaxRecords": 25, "filter": ALL},
                                    headers=AUTH) as resp:
        second = await resp.json()
    assert second["items"][0]["id"] > first["items"][-1]["id"]
    assert second["pageDetails"]["prevPageUrl"]
    async with harness.session.get(harness.sim.root + ZONE + "/Contacts/999999",
                                   headers=AUTH) as resp:
        assert resp.status == 200 and await resp.json() == {"item": None}
    async with harness.session.post(url, json={"MaxRecords": 501, "filter": ALL},
                                    headers=AUTH) as resp:
        assert resp.status == 500


async def test_a_refused_next_page_is_continued_by_id_with_its_own_body(
        harness: Harness) -> None:
    """An expired ``nextPageUrl`` (404) is replaced by the query for ids past the last one
    read; the pages after that are POSTed with that new query's body, not the first one."""
    harness.sim.faults.status(ZONE + "/ConfigurationItems/query/next", 404, count=1)
    harness.sim.clear()
    report = await harness.sync(full=True)
    assert report.outcome == "succeeded"
    assert (await harness.rows(Entity.ASSET)).keys() == {str(i) for i in harness.ds.ids("assets")}
    queries = [r for r in harness.sim.requests()
               if r.path.startswith(ZONE + "/ConfigurationItems/query")]
    bodies = [json.loads(r.body or "{}") for r in queries]
    by_id = [i for i, (r, b) in enumerate(zip(queries, bodies)) if r.path.endswith("/query")
             and any(f.get("field") == "id" and f.get("op") == "gt" for f in b.get("filter", []))]
    assert len(by_id) == 1  # one query continued by id …
    after = queries[by_id[0] + 1:]
    assert after and all(r.path.endswith("/query/next") for r in after)
    assert all(json.loads(r.body or "{}") == bodies[by_id[0]] for r in after)  # … and its body


# --- zones and credentials 


async def test_zone_is_looked_up_once_and_followed_after_it_moves(harness: Harness) -> None:
    await harness.sync()
    assert harness.connector.zone is not None
    assert harness.connector.zone.api == harness.sim.root + "/webservices5/ATServicesRest/"
    async with harness.session.post(harness.sim.root + "/_sim/autotask/zone",
                                    json={"zone": "webservices14"}) as resp:
        assert resp.status == 204
    harness.sim.clear()
    harness.ds.update("assets", harness.ds.ids("assets")[0], notes="after the move")
    report = await harness.sync()
    assert report.outcome == "succeeded", report.error
    assert (await harness.rows(Entity.ASSET))[str(harness.ds.ids("assets")[0])]["notes"] == \
        "after the move"
    paths = [r.path for r in harness.sim.requests()]
    assert paths.count("/ATServicesRest/V1.0/zoneInformation") == 1  # re-checked once on 401
    assert paths[0].startswith("/webservices5/")  # the cached zone, refused with 401
    stale = [p for p in paths if p.startswith("/webservices5/")]
    moved = [p for p in paths if p.startswith("/webservices14/")]
    # requests already under way when the zone moved go stale once each; the run's first
    # request is repeated at the new zone (others under way may belong to a lane the run
    # no longer needs, such as a count beside a last page, and are then dropped)
    assert paths[0].replace("/webservices5/", "/webservices14/", 1) in moved
    assert len(stale) + 1 + len(moved) == len(paths)
    assert harness.connector.zone.api.endswith("/webservices14/ATServicesRest/")


@pytest.mark.no_store
async def test_unknown_api_user_is_an_auth_error(harness: Harness) -> None:
    connector = harness.connect(settings={"username": "nobody@example.com"})
    with pytest.raises(PsaAuthError, match="no zone"):
        await connector.list_tickets(TicketQuery())
    async with harness.session.get(harness.sim.base_url + "V1.0/zoneInformation",
                                   params={"user": "nobody@example.com"}) as resp:
        assert resp.status == 500
        assert await resp.json() == {"errors": ["Zone information could not be determined"]}


@pytest.mark.no_store
async def test_zone_answer_off_the_vendor_hosts_gets_no_credentials(harness: Harness) -> None:
    connector = harness.connect(settings={"zone_hosts": ""})  # the default: vendor hosts only
    harness.sim.app[REQUEST_LOG_KEY].clear()
    with pytest.raises(PsaAuthError, match=r"not on https://webservices\*\.autotask\.net"):
        await connector.list_tickets(TicketQuery())
    calls = harness.sim.app[REQUEST_LOG_KEY].entries
    assert [r.path for r in calls] == ["/ATServicesRest/V1.0/zoneInformation"]
    assert "Secret" not in calls[0].headers


def test_zone_answers_are_accepted_only_on_https_vendor_hosts_unless_overridden() -> None:
    for url in ("https://webservices5.autotask.net/ATServicesRest/",
                "https://webservices.autotask.net/ATServicesRest/",
                "https://WEBSERVICES14.autotask.net:443/ATServicesRest/"):
        assert zone_allowed(url, None), url
    for url in ("http://webservices5.autotask.net/ATServicesRest/",
                "https://webservices5.autotask.net.evil.example/ATServicesRest/",
                "https://evil.example/webservices5.autotask.net/",
                "https://xwebservices5.autotask.net/", "https://autotask.net/"):
        assert not zone_allowed(url, None), url
    assert zone_allowed("https://proxy.example/ATServicesRest/", "proxy.example")
    assert not zone_allowed("http://proxy.example/ATServicesRest/", "proxy.example")
    assert zone_allowed("http://127.0.0.1:8081/x/", "proxy.example, http://127.0.0.1")
    assert not zone_allowed("https://webservices5.autotask.net/", "proxy.example")


@pytest.mark.no_store
async def test_wrong_secret_is_refused_with_401_and_a_bad_integration_code_with_500(
        harness: Harness) -> None:
    for secrets, status in (({"secret": "wrong"}, 401), ({"integration_code": "WRONG"}, 500)):
        connector = harness.connect(secrets=secrets)
        with pytest.raises(PsaAuthError):
            await connector.get_ticket("1")
        headers = {**AUTH, "Secret": secrets.get("secret", DEMO_SECRET),
                   "ApiIntegrationCode": secrets.get("integration_code", DEMO_INTEGRATION_CODE)}
        async with harness.session.get(harness.sim.root + ZONE + "/Tickets/1",
                                       headers=headers) as resp:
            assert resp.status == status and (await resp.json())["errors"]


# --- live tickets 


@pytest.mark.no_store
async def test_live_tickets_are_listed_filtered_paged_and_fetched(harness: Harness) -> None:
    ds, connector = harness.ds, harness.connector
    first = await connector.list_tickets(TicketQuery(page=1, page_size=10))
    assert [t.psa_id for t in first.tickets] == [str(i) for i in ds.ids("tickets")[:10]]
    assert first.has_more
    last = await connector.list_tickets(TicketQuery(page=3, page_size=10))
    assert [t.psa_id for t in last.tickets] == [str(i) for i in ds.ids("tickets")[20:30]]
    assert not last.has_more
    beyond = await connector.list_tickets(TicketQuery(page=4, page_size=10))
    assert beyond.tickets == () and not beyond.has_more

    some = ds.records("tickets")[4]
    for query, keep in (
            (TicketQuery(board=str(some.board_id)), lambda t: t.board_id == some.board_id),
            (TicketQuery(priority=str(some.priority_id)),
             lambda t: t.priority_id == some.priority_id),
            (TicketQuery(company=str(some.company_id)), lambda t: t.company_id == some.company_id),
            (TicketQuery(status=str(status_ids(ds)[ds.ticket_statuses[some.status_id].name])),
             lambda t: ds.ticket_statuses[t.status_id].name
             == ds.ticket_statuses[some.status_id].name),
            (TicketQuery(text=some.summary.split()[0].upper()),
             lambda t: some.summary.split()[0].casefold() in t.summary.casefold()),
            (TicketQuery(text=ticket_number(some)), lambda t: t.id == some.id)):
        page = await connector.list_tickets(replace(query, page_size=100))
        assert [t.psa_id for t in page.tickets] == [
            str(t.id) for t in ds.records("tickets") if keep(t)], query

    for bad in (TicketQuery(board="help desk"), TicketQuery(company="1;2"),
                TicketQuery(status="x"), TicketQuery(priority="-1")):
        with pytest.raises(PsaInvalidId):
            await connector.list_tickets(bad)
    with pytest.raises(ValueError):
        await connector.list_tickets(TicketQuery(page_size=0))

    ticket = await connector.get_ticket(str(some.id))
    contact = ds.contacts.get(some.contact_id) if some.contact_id else None
    assert ticket.summary == some.summary
    assert ticket.company_psa_id == str(some.company_id)
    assert ticket.company_name == ds.companies[some.company_id].name
    assert ticket.board == ds.boards[some.board_id].name
    assert ticket.status == ds.ticket_statuses[some.status_id].name
    assert ticket.priority == ds.priorities[some.priority_id].name
    assert ticket.contact == (f"{contact.first_name} {contact.last_name}" if contact else None)
    assert ticket.created_at == some.created_at.replace(microsecond=0)
    assert ticket.closed == some.closed
    assert ticket.url == (f"{harness.sim.root}/ww5/Autotask/AutotaskExtend/ExecuteCommand.aspx"
                          f"?Code=OpenTicketDetail&TicketID={some.id}")
    with pytest.raises(PsaNotFound):
        await connector.get_ticket("999999")
    with pytest.raises(PsaInvalidId):
        await connector.get_ticket("12a")


# --- limits --------------------------------------------------------------------------------------


async def _concurrent_gets(session: aiohttp.ClientSession, url: str, n: int) -> list[int]:
    async def one() -> int:
        async with session.get(url, headers=AUTH) as resp:
            if resp.status == 429:
                assert "thread threshold of 3 threads" in (await resp.json())["errors"][0]
            return resp.status
    return list(await asyncio.gather(*(one() for _ in range(n))))


@pytest.mark.no_store
async def test_simulator_refuses_a_fourth_concurrent_request_per_endpoint(
        harness: Harness) -> None:
    harness.sim.faults.delay(ZONE + "/Tickets/", 0.3, count=None)
    statuses = await _concurrent_gets(harness.session, harness.sim.root + ZONE + "/Tickets/1", 4)
    assert sorted(statuses) == [200, 200, 200, 429]
    other = await _concurrent_gets(harness.session, harness.sim.root + ZONE + "/Contacts/1", 3)
    assert other == [200, 200, 200]  # endpoints are counted separately


@pytest.mark.no_store
async def test_connector_never_exceeds_three_concurrent_requests_per_endpoint(
        harness: Harness) -> None:
    harness.sim.faults.delay(ZONE + "/Tickets/", 0.05, count=None)
    ids = [str(i) for i in harness.ds.ids("tickets")[:9]]
    tickets = await asyncio.gather(*(harness.connector.get_ticket(i) for i in ids))
    assert [t.psa_id for t in tickets] == ids
    assert harness.sim.state.threads.peak["tickets"] == 3
    assert harness.sim.state.threads.rejected == 0


@pytest.mark.no_store
async def test_thread_limit_429_is_backed_off_and_retried(harness: Harness) -> None:
    """Another process with the same tracking identifier holds all three Tickets threads."""
    connector = harness.connect(policy=RetryPolicy(max_retries=8, backoff_base=0.2))
    await connector.get_ticket("2")  # zone and usage known before the contention
    harness.sim.faults.delay(ZONE + "/Tickets/1", 0.4, count=3)
    holders = asyncio.gather(*(harness.session.get(harness.sim.root + ZONE + "/Tickets/1",
                                                   headers=AUTH) for _ in range(3)))
    holding = asyncio.ensure_future(holders)
    await asyncio.sleep(0.1)
    ticket = await connector.get_ticket("3")
    for response in await holding:
        assert response.status == 200
        response.release()
    assert ticket.psa_id == "3"
    assert harness.sim.state.threads.rejected >= 1  # it was refused, waited, and got through


@pytest.mark.no_store
async def test_simulator_enforces_and_reports_the_hourly_request_threshold(
        make_harness: HarnessFactory) -> None:
    harness = await make_harness(request_threshold=5, usage_latency=(0.0, 0.0))
    url = harness.sim.root + ZONE + "/Tickets/1"
    for _ in range(5):
        async with harness.session.get(url, headers=AUTH) as resp:
            assert resp.status == 200
    async with harness.session.get(url, headers=AUTH) as resp:
        assert resp.status == 429 and "threshold" in (await resp.json())["errors"][0]
    async with harness.session.get(harness.sim.root + ZONE + "/ThresholdInformation",
                                   headers=AUTH) as resp:
        assert await resp.json() == {"externalRequestThreshold": 5,
                                     "requestThresholdTimeframe": 60,
                                     "currentTimeframeRequestCount": 5}
    async with harness.session.get(harness.sim.base_url + "V1.0/zoneInformation",
                                   params={"user": DEMO_USERNAME}) as resp:
        assert resp.status == 200  # discovery is not limited


async def test_connector_slows_down_before_the_threshold_and_never_hits_it(
        make_harness: HarnessFactory) -> None:
    clock = FakeClock()
    harness = await make_harness(request_threshold=400, usage_latency=(0.0, 0.0), clock=clock)
    harness.connector.governor.clock = clock
    harness.connector.governor.sleep = clock.sleep
    harness.sim.state.budget.add_external(350)  # other integrations used 87.5 % this hour
    report = await harness.sync()
    assert report.outcome == "succeeded", report.error
    assert harness.sim.state.budget.rejected == 0  # never refused
    pace = 3600 / 400
    assert pace in clock.slept  # spaced at the sustainable pace past 50 %
    assert 60.0 in clock.slept  # waited at 90 % until the others' hour rolled off
    assert clock.now - 1000.0 >= 3600
    threshold_checks = [r for r in harness.sim.requests()
                        if r.path == ZONE + "/ThresholdInformation"]
    assert len(threshold_checks) > 2


async def test_connector_without_pressure_does_not_wait(harness: Harness) -> None:
    clock = FakeClock()
    harness.connector.governor.clock = clock
    harness.connector.governor.sleep = clock.sleep
    await harness.sync()
    assert clock.slept == []


@pytest.mark.no_store
async def test_lookups_loading_together_share_one_request(harness: Harness) -> None:
    harness.sim.clear()
    first, second = await asyncio.gather(harness.connector._countries(),
                                         harness.connector._countries())
    assert first == second and first
    assert [p for _, p, _ in harness.sim.state.bodies if "/Countries/" in p] == \
        [ZONE + "/Countries/query"]


@pytest.mark.no_store
async def test_a_failed_lookup_is_asked_again_next_time(harness: Harness) -> None:
    harness.sim.faults.status(ZONE + "/Countries/query", 404, count=1)
    with pytest.raises(PsaNotFound):
        await harness.connector._countries()
    assert await harness.connector._countries()


@pytest.mark.no_store
async def test_fresh_picklists_asked_together_share_one_request(harness: Harness) -> None:
    def asked() -> int:
        path = ZONE + "/Tickets/entityInformation/fields"
        return sum(1 for r in harness.sim.requests() if r.path == path)

    harness.sim.clear()
    answers = await asyncio.gather(*(harness.connector.picklists("Tickets", fresh=True)
                                     for _ in range(3)))
    assert answers[0] and answers[0] == answers[1] == answers[2]
    assert asked() == 1
    await harness.connector.picklists("Tickets", fresh=True)  # asked afresh once answered
    assert asked() == 2


def test_check_config_shows_a_zone_hosts_override(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from psad.cli import main

    for name in ("token", "secret", "code"):
        (tmp_path / name).write_text(f"{name}-0123456789abcdef")
    path = tmp_path / "psad.toml"
    path.write_text("""database = "psad.db"
[server]
api_token = { file = "token" }
[[integrations]]
name = "at-proxy"
kind = "autotask"
base_url = "https://proxy.example/ATServicesRest/"
username = "api@example.com"
secret = { file = "secret" }
integration_code = { file = "code" }
zone_hosts = "proxy.example"
[[integrations]]
name = "at-plain"
kind = "autotask"
base_url = "https://webservices.autotask.net/ATServicesRest/"
username = "api@example.com"
secret = { file = "secret" }
integration_code = { file = "code" }
""")
    assert main(["check-config", str(path)]) == 0
    override = [line for line in capsys.readouterr().out.splitlines() if "zone_hosts" in line]
    assert override == ["  at-proxy: zone_hosts = 'proxy.example' replaces the Autotask zone "
                        "check (https://webservices*.autotask.net)"]


async def test_a_connector_built_for_the_next_run_reuses_the_zone_already_found(
        harness: Harness) -> None:
    assert (await harness.sync()).outcome == "succeeded"
    harness.sim.clear()
    harness.connector = harness.connect()
    assert (await harness.sync()).outcome == "succeeded"
    paths = [r.path for r in harness.sim.requests()]
    assert "/ATServicesRest/V1.0/zoneInformation" not in paths
    assert paths[0] == ZONE + "/ThresholdInformation"
