"""The ConnectWise simulator, driven over loopback with a plain aiohttp client."""

from __future__ import annotations

import asyncio
import base64
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from psad.simulators import DATASET_KEY, FAULTS_KEY, REQUEST_LOG_KEY
from psad.simulators.connectwise import DEFAULT_CLIENT_ID, create_app
from psad.simulators.dataset import BASE_TIME, DELETE, SPAN, Dataset
from psad.simulators.faults import Faults
from sim_harness import CW_API as API
from sim_harness import CW_AUTH as AUTH
from sim_harness import ServerFactory


@dataclass
class Sim:
    server: TestServer
    session: aiohttp.ClientSession

    @property
    def app(self) -> web.Application:
        return self.server.app

    @property
    def ds(self) -> Dataset:
        return self.app[DATASET_KEY]

    @property
    def faults(self) -> Faults:
        return self.app[FAULTS_KEY]

    def url(self, path: str) -> str:
        return str(self.server.make_url(path if path.startswith(("/_sim", "/login")) else API + path))

    async def get(self, path: str, params: dict[str, Any] | None = None,
                  headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
        """(status, headers, parsed JSON body)."""
        async with self.session.get(self.url(path), params=params,
                                    headers=AUTH if headers is None else headers) as response:
            return response.status, response.headers, await response.json(content_type=None)

    async def body(self, path: str, **params: Any) -> Any:
        status, _, body = await self.get(path, params=params or None)
        assert status == 200, body
        return body


def small_dataset() -> Dataset:
    return Dataset.generate(42, companies=12, sites_per_company=2, assets=60, contacts=30,
                            tickets=40, boards=3)


@pytest.fixture
async def sim(aiohttp_server: ServerFactory, session: aiohttp.ClientSession) -> Sim:
    return Sim(await aiohttp_server(create_app(small_dataset())), session)


def ids(records: list[dict[str, Any]]) -> list[int]:
    return [r["id"] for r in records]


def rels(link: str) -> dict[str, str]:
    return {m.group(2): m.group(1) for m in re.finditer(r'<([^>]*)>; rel="(\w+)"', link)}


def cw_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- auth -------------------------------------------------------------------------------------


async def test_requests_without_credentials_get_connectwise_401(sim: Sim) -> None:
    status, _, body = await sim.get("/company/companies", headers={"clientId": DEFAULT_CLIENT_ID})
    assert status == 401
    assert body["code"] == "Unauthorized" and body["message"]


async def test_wrong_private_key_is_refused(sim: Sim) -> None:
    token = base64.b64encode(b"psad-demo+pub:wrong").decode()
    status, _, body = await sim.get(
        "/company/companies", headers={"Authorization": f"Basic {token}", "clientId": DEFAULT_CLIENT_ID})
    assert status == 401 and body["code"] == "Unauthorized"


async def test_company_id_in_credentials_is_case_insensitive(sim: Sim) -> None:
    token = base64.b64encode(b"PSAD-DEMO+pub:priv").decode()
    status, _, _ = await sim.get(
        "/system/info", headers={"Authorization": f"Basic {token}", "clientId": DEFAULT_CLIENT_ID})
    assert status == 200


async def test_missing_client_id_is_a_400_naming_client_id(sim: Sim) -> None:
    status, _, body = await sim.get("/company/companies", headers={"Authorization": AUTH["Authorization"]})
    assert status == 400
    assert body["errors"][0]["field"] == "clientId"


async def test_company_info_needs_no_auth_and_names_the_codebase(sim: Sim) -> None:
    status, _, body = await sim.get("/login/companyinfo/psad-demo", headers={})
    assert status == 200
    assert body["Codebase"] == "v4_6_release/" and body["IsCloud"] is True
    assert body["VersionCode"].startswith("v20")
    _, _, unknown = await sim.get("/login/companyinfo/nobody", headers={})
    assert unknown is None


async def test_system_info_answers_version_and_cloud_flag(sim: Sim) -> None:
    body = await sim.body("/system/info")
    assert body["isCloud"] is True and body["version"]


# --- paging -----------------------------------------------------------------------------------


async def test_pages_carry_link_headers_and_the_last_page_has_no_next(sim: Sim) -> None:
    status, headers, first = await sim.get("/company/companies", {"pageSize": 5})
    assert status == 200 and ids(first) == [1, 2, 3, 4, 5]
    links = rels(headers["Link"])
    assert set(links) == {"next", "last"}
    assert links["next"].endswith("page=2") and links["last"].endswith("page=3")

    _, headers, middle = await sim.get("/company/companies", {"pageSize": 5, "page": 2})
    assert ids(middle) == [6, 7, 8, 9, 10]
    assert set(rels(headers["Link"])) == {"first", "prev", "next", "last"}

    _, headers, last = await sim.get("/company/companies", {"pageSize": 5, "page": 3})
    assert ids(last) == [11, 12]
    assert set(rels(headers["Link"])) == {"first", "prev"}


async def test_link_urls_keep_the_query_and_end_with_the_page_number(sim: Sim) -> None:
    conditions = 'name like "%" and id > 0'
    _, headers, _ = await sim.get("/company/companies", {"conditions": conditions, "pageSize": 4})
    next_url = rels(headers["Link"])["next"]
    assert re.search(r'page=(\d+)>; rel="next"', headers["Link"])
    query = dict(parse_qsl(urlsplit(next_url).query))
    assert query == {"conditions": conditions, "pageSize": "4", "page": "2"}
    async with sim.session.get(next_url, headers=AUTH) as response:
        assert ids(await response.json()) == [5, 6, 7, 8]


async def test_a_single_page_sends_an_empty_link_header(sim: Sim) -> None:
    _, headers, body = await sim.get("/company/companies/statuses")
    assert len(body) == 5
    assert headers["Link"] == ""


async def test_past_the_last_page_is_an_empty_array(sim: Sim) -> None:
    assert await sim.body("/company/companies", pageSize=5, page=9) == []


async def test_default_page_size_is_25_and_over_1000_is_clamped(aiohttp_server: ServerFactory) -> None:
    ds = Dataset.generate(5, companies=3, assets=1500, contacts=0, tickets=0)
    server = await aiohttp_server(create_app(ds))
    async with aiohttp.ClientSession() as session:
        sim = Sim(server, session)
        assert len(await sim.body("/company/configurations")) == 25
        _, headers, page = await sim.get("/company/configurations", {"pageSize": 5000})
        assert len(page) == 1000
        assert rels(headers["Link"])["last"].endswith("page=2")


async def test_forward_only_paging_walks_every_record_by_page_id(sim: Sim) -> None:
    headers = {**AUTH, "pagination-type": "forward-only"}
    url: str | None = sim.url("/company/configurations?pageSize=25")
    seen: list[int] = []
    links: list[str] = []
    while url:
        async with sim.session.get(url, headers=headers) as response:
            seen.extend(ids(await response.json()))
            assert "Link" in response.headers
            links.append(response.headers["Link"])
            next_link = response.links.get("next")
            url = str(next_link["url"]) if next_link else None
    assert seen == sim.ds.ids("assets")
    assert links[-1] == ""
    assert all(set(rels(link)) == {"next"} for link in links[:-1])
    assert rels(links[0])["next"].endswith("pageId=25")


async def test_forward_only_honours_conditions(sim: Sim) -> None:
    company_id = sim.ds.assets[1].company_id
    headers = {**AUTH, "pagination-type": "forward-only"}
    expected = [a.id for a in sim.ds.records("assets") if a.company_id == company_id]
    _, response_headers, body = await sim.get(
        "/company/configurations", {"conditions": f"company/id={company_id}", "pageSize": 1000}, headers)
    assert ids(body) == expected and response_headers["Link"] == ""


async def test_keyset_paging_with_id_conditions_like_the_psad_connector(sim: Sim) -> None:
    seen: list[int] = []
    last = 0
    while True:
        page = await sim.body("/company/contacts", pageSize=7, orderBy="id asc",
                              conditions=f"(lastUpdated>[2000-01-01T00:00:00Z]) and (id>{last})")
        seen.extend(ids(page))
        if len(page) < 7:
            break
        last = page[-1]["id"]
    assert seen == sim.ds.ids("contacts")


# --- conditions, fields, orderBy ---------------------------------------------------------------


async def test_last_updated_condition_returns_only_records_changed_after_the_cursor(sim: Sim) -> None:
    cursor = datetime.now(UTC)
    changed = sim.ds.update("assets", 7, notes="moved to rack 3")
    body = await sim.body("/company/configurations", conditions=f"lastUpdated>[{cw_time(cursor)}]")
    assert ids(body) == [7]
    assert body[0]["notes"] == "moved to rack 3"
    assert changed.updated_at >= cursor


async def test_id_and_company_conditions_select_the_matching_records(sim: Sim) -> None:
    assert ids(await sim.body("/company/configurations", conditions="id > 5 and id <= 8")) == [6, 7, 8]
    company_id = sim.ds.assets[3].company_id
    expected = [a.id for a in sim.ds.records("assets") if a.company_id == company_id]
    body = await sim.body("/company/configurations", conditions=f"company/id = {company_id}", pageSize=1000)
    assert ids(body) == expected


async def test_conditions_support_or_parentheses_like_contains_and_in(sim: Sim) -> None:
    ds = sim.ds
    body = await sim.body("/company/companies", conditions="(id in (1, 3) or id = 5) and deletedFlag = false")
    assert ids(body) == [1, 3, 5]
    name = ds.companies[2].name
    body = await sim.body("/company/companies", conditions=f'name LIKE "{name[:4]}%"')
    assert 2 in ids(body) and all(c["name"].lower().startswith(name[:4].lower()) for c in body)
    word = ds.tickets[1].summary.split()[1]
    body = await sim.body("/service/tickets", conditions=f'summary contains "{word.upper()}"', pageSize=100)
    assert ids(body) == [t.id for t in ds.records("tickets") if word.lower() in t.summary.lower()]
    body = await sim.body("/service/tickets", conditions="closedFlag = true and board/id != 2", pageSize=100)
    assert ids(body) == [t.id for t in ds.records("tickets") if t.closed and t.board_id != 2]


async def test_status_and_type_name_conditions_compare_case_insensitively(sim: Sim) -> None:
    expected = [a.id for a in sim.ds.records("assets") if a.type == "Server" and a.status == "Active"]
    body = await sim.body("/company/configurations", pageSize=100,
                          conditions='type/name = "server" AND status/name = "Active"')
    assert ids(body) == expected


@pytest.mark.parametrize("conditions", [
    "colour = 1",
    "name = ",
    "name = Acme",
    'id = "1"',
    "lastUpdated > 2025-01-01",
    "lastUpdated > [yesterday]",
    "(id = 1",
    "id = 1 and",
    'name like 3',
])
async def test_bad_conditions_are_a_400_invalid_object(sim: Sim, conditions: str) -> None:
    status, _, body = await sim.get("/company/companies", {"conditions": conditions})
    assert status == 400
    assert body["code"] == "InvalidObject" and body["message"]
    assert body["errors"][0]["field"] == "conditions"


async def test_fields_trims_records_to_the_named_keys(sim: Sim) -> None:
    body = await sim.body("/company/companies", fields="id,name", pageSize=3)
    assert [sorted(c) for c in body] == [["id", "name"]] * 3
    body = await sim.body("/company/configurations", fields="id,company/id", pageSize=2)
    assert body[0] == {"id": 1, "company": {"id": sim.ds.assets[1].company_id}}


async def test_order_by_id_desc_and_last_updated_desc(sim: Sim) -> None:
    assert ids(await sim.body("/service/tickets", orderBy="id desc", pageSize=3)) == [40, 39, 38]
    assert ids(await sim.body("/service/tickets", orderBy="id desc", pageSize=3, page=2)) == [37, 36, 35]
    body = await sim.body("/company/contacts", orderBy="lastUpdated desc", pageSize=100)
    stamps = [c["_info"]["lastUpdated"] for c in body]
    assert stamps == sorted(stamps, reverse=True) and len(body) == 30


async def test_unknown_order_by_field_is_a_400(sim: Sim) -> None:
    status, _, body = await sim.get("/company/companies", {"orderBy": "colour asc"})
    assert status == 400 and body["code"] == "InvalidObject"
    assert body["errors"][0]["field"] == "orderBy"


async def test_counts_honour_conditions(sim: Sim) -> None:
    assert await sim.body("/company/configurations/count") == {"count": 60}
    expected = sum(1 for c in sim.ds.records("contacts") if not c.active)
    assert await sim.body("/company/contacts/count", conditions="inactiveFlag=true") == {"count": expected}
    assert await sim.body("/company/companies/1/sites/count") == {"count": 2}


# --- resources ---------------------------------------------------------------------------------


async def test_sites_are_listed_per_company_only(sim: Sim) -> None:
    sites = await sim.body("/company/companies/3/sites")
    assert len(sites) == 2
    assert all(s["company"]["id"] == 3 for s in sites)
    assert [s["primaryAddressFlag"] for s in sites] == [True, False]
    assert {"stateReference", "country", "inactiveFlag", "zip"} <= set(sites[0])
    assert set(sites[0]["stateReference"]) == {"id", "identifier", "name"}
    site_id = sites[1]["id"]
    assert (await sim.body(f"/company/companies/3/sites/{site_id}"))["id"] == site_id
    status, _, body = await sim.get(f"/company/companies/4/sites/{site_id}")
    assert status == 404 and body["code"] == "NotFound"
    status, _, _ = await sim.get("/company/companies/999/sites")
    assert status == 404
    status, _, _ = await sim.get("/company/sites")
    assert status == 404


async def test_board_statuses_belong_to_their_board(sim: Sim) -> None:
    statuses = await sim.body("/service/boards/2/statuses")
    assert statuses and all(s["board"]["id"] == 2 for s in statuses)
    assert [s["sortOrder"] for s in statuses] == sorted(s["sortOrder"] for s in statuses)
    assert any(s["closedStatus"] for s in statuses) and sum(s["defaultFlag"] for s in statuses) == 1
    assert {"inactive", "closedStatus", "sortOrder"} <= set(statuses[0])


async def test_lookups_have_connectwise_flags(sim: Sim) -> None:
    statuses = await sim.body("/company/companies/statuses")
    assert sum(s["defaultFlag"] for s in statuses) == 1
    assert all(isinstance(s["inactiveFlag"], bool) for s in statuses)
    assert {t["name"] for t in await sim.body("/company/companies/types")} >= {"Client", "Vendor"}
    boards = await sim.body("/service/boards")
    assert len(boards) == 3 and all("inactiveFlag" in b for b in boards)
    priorities = await sim.body("/service/priorities")
    assert [p["sortOrder"] for p in priorities] == [1, 2, 3, 4] and all(p["color"] for p in priorities)


async def test_company_wire_shape(sim: Sim) -> None:
    company = await sim.body("/company/companies/1")
    record = sim.ds.companies[1]
    assert company["identifier"] == record.identifier and company["name"] == record.name
    assert record.status_id is not None
    assert company["status"]["name"] == sim.ds.company_statuses[record.status_id].name
    assert [t["id"] for t in company["types"]] == record.type_ids
    assert company["deletedFlag"] is False and company["website"] == record.website
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", company["_info"]["lastUpdated"])
    assert company["_info"]["dateEntered"] <= company["_info"]["lastUpdated"]


async def test_configuration_wire_shape(sim: Sim) -> None:
    record = next(a for a in sim.ds.records("assets") if a.purchase_date and a.warranty_expiration)
    asset = await sim.body(f"/company/configurations/{record.id}")
    assert asset["purchaseDate"] == f"{record.purchase_date.isoformat()}T00:00:00Z"
    assert asset["warrantyExpirationDate"].endswith("T00:00:00Z")
    assert asset["type"]["name"] == record.type and asset["status"]["name"] == record.status
    assert asset["manufacturer"]["name"] == record.manufacturer and asset["osType"] == record.os_type
    assert set(asset["company"]) == {"id", "identifier", "name", "_info"}
    assert [f["caption"] for f in asset["customFields"]] == ["Backup", "Rack", "Cost Centre", "Last Audit"]
    assert set(asset["customFields"][0]) == {"id", "caption", "type", "entryMethod", "numberOfDecimals",
                                             "value"}


async def test_contact_wire_shape(sim: Sim) -> None:
    record = next(c for c in sim.ds.records("contacts") if c.email and c.phone)
    contact = await sim.body(f"/company/contacts/{record.id}")
    assert (contact["firstName"], contact["lastName"]) == (record.first_name, record.last_name)
    items = {i["communicationType"]: i for i in contact["communicationItems"]}
    assert items["Email"]["value"] == record.email and items["Email"]["defaultFlag"] is True
    assert items["Phone"]["value"] == record.phone == contact["defaultPhoneNbr"]
    assert contact["types"] == [{"id": contact["types"][0]["id"], "name": record.type}]
    assert contact["inactiveFlag"] is (not record.active)
    assert [f["caption"] for f in contact["customFields"]] == ["Preferred Channel", "VIP", "Extension"]


async def test_ticket_references_are_consistent(sim: Sim) -> None:
    for ticket in await sim.body("/service/tickets", pageSize=100):
        status = sim.ds.ticket_statuses[ticket["status"]["id"]]
        assert status.board_id == ticket["board"]["id"]
        assert ticket["closedFlag"] is status.closed
        assert set(ticket["priority"]) == {"id", "name", "sort", "_info"}
        assert "identifier" in ticket["company"]
        assert ticket["_info"]["dateEntered"] <= ticket["_info"]["lastUpdated"]


async def test_unknown_records_and_paths_are_connectwise_404s(sim: Sim) -> None:
    status, _, body = await sim.get("/company/companies/99999")
    assert status == 404 and body["code"] == "NotFound" and "99999" in body["message"]
    status, _, body = await sim.get("/company/nothing")
    assert status == 404 and body["code"] == "NotFound"


# --- faults -------------------------------------------------------------------------------------


async def test_injected_429_carries_retry_after_once(sim: Sim) -> None:
    sim.faults.status(API + "/company", 429, retry_after=7)
    status, headers, body = await sim.get("/company/companies")
    assert status == 429 and headers["Retry-After"] == "7" and body["code"]
    assert (await sim.get("/company/companies"))[0] == 200


async def test_injected_503_lasts_until_cleared(sim: Sim) -> None:
    sim.faults.status(API + "/service", 503, count=None)
    for _ in range(3):
        status, _, body = await sim.get("/service/boards")
        assert status == 503 and body["code"] == "ConnectWiseApi"
    assert (await sim.get("/company/companies"))[0] == 200
    sim.faults.clear()
    assert (await sim.get("/service/boards"))[0] == 200


async def test_reset_breaks_the_connection_mid_body(sim: Sim) -> None:
    sim.faults.reset(API + "/company/configurations")
    with pytest.raises(aiohttp.ClientError):
        async with sim.session.get(sim.url("/company/configurations"), headers=AUTH) as response:
            assert response.status == 200
            await response.read()
    assert (await sim.get("/company/configurations"))[0] == 200


async def test_truncated_json_is_a_200_that_does_not_parse(sim: Sim) -> None:
    sim.faults.truncated_json(API + "/company/contacts")
    async with sim.session.get(sim.url("/company/contacts"), headers=AUTH) as response:
        assert response.status == 200
        with pytest.raises(ValueError):
            await response.json()


async def test_invalid_json_is_a_200_that_does_not_parse(sim: Sim) -> None:
    sim.faults.invalid_json(API + "/company/contacts")
    async with sim.session.get(sim.url("/company/contacts"), headers=AUTH) as response:
        assert response.status == 200 and response.content_type == "application/json"
        with pytest.raises(ValueError):
            await response.json()


async def test_delay_outlasts_a_client_timeout(sim: Sim) -> None:
    sim.faults.delay(API + "/service/tickets", 1.0)
    with pytest.raises(asyncio.TimeoutError):
        async with sim.session.get(sim.url("/service/tickets"), headers=AUTH,
                                   timeout=aiohttp.ClientTimeout(total=0.2)):
            pass
    assert [t.kind for t in sim.faults.triggered] == ["delay"]


async def test_rate_limit_answers_429_past_the_budget(sim: Sim) -> None:
    sim.faults.limit_rate(3, 60.0, retry_after=2)
    statuses = [(await sim.get("/service/boards"))[0] for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    status, headers, _ = await sim.get("/service/boards")
    assert status == 429 and headers["Retry-After"] == "2"


async def test_latency_slows_every_request(sim: Sim) -> None:
    sim.faults.latency = 0.05
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await sim.get("/service/boards"))[0] == 200
    assert loop.time() - started >= 0.05


async def test_faults_hit_only_their_prefix(sim: Sim) -> None:
    sim.faults.status(API + "/company/contacts", 500, count=None)
    assert (await sim.get("/company/companies"))[0] == 200
    assert (await sim.get("/company/contacts"))[0] == 500


# --- request log and mutations -----------------------------------------------------------------------


async def test_request_log_records_and_counts_per_path(sim: Sim) -> None:
    log = sim.app[REQUEST_LOG_KEY]
    await sim.get("/company/companies", {"pageSize": 2})
    await sim.get("/company/companies", {"pageSize": 2, "page": 2})
    await sim.get("/service/boards")
    assert log.count(API + "/company/companies") == 2
    assert log.per_path()[API + "/service/boards"] == 1
    entry = log.entries[1]
    assert entry.method == "GET" and entry.query == {"pageSize": "2", "page": "2"}
    assert entry.headers["clientId"] == DEFAULT_CLIENT_ID
    log.clear()
    assert len(log) == 0


async def test_python_mutations_show_with_a_bumped_last_updated(sim: Sim) -> None:
    before = (await sim.body("/company/companies/2"))["_info"]["lastUpdated"]
    sim.ds.update("companies", 2, name="Renamed Ltd")
    after = await sim.body("/company/companies/2")
    assert after["name"] == "Renamed Ltd" and after["_info"]["lastUpdated"] > before
    added = sim.ds.add("assets", company_id=2, name="NEW-SRV01", type="Server", status="Active")
    assert (await sim.body(f"/company/configurations/{added.id}"))["name"] == "NEW-SRV01"
    sim.ds.delete("assets", added.id)
    assert (await sim.get(f"/company/configurations/{added.id}"))[0] == 404


async def test_sim_endpoints_add_update_and_delete_records(sim: Sim) -> None:
    async with sim.session.post(sim.url("/_sim/sites"),
                                json={"company_id": 5, "name": "Pop-up", "active": False}) as response:
        assert response.status == 201
        site_id = (await response.json())["id"]
    site = await sim.body(f"/company/companies/5/sites/{site_id}")
    assert site["name"] == "Pop-up" and site["inactiveFlag"] is True

    before = (await sim.body("/company/configurations/4"))["_info"]["lastUpdated"]
    async with sim.session.patch(sim.url("/_sim/assets/4"),
                                 json={"notes": "patched", "purchase_date": "2023-02-01"}) as response:
        assert response.status == 200
    asset = await sim.body("/company/configurations/4")
    assert asset["notes"] == "patched" and asset["purchaseDate"] == "2023-02-01T00:00:00Z"
    assert asset["_info"]["lastUpdated"] >= before

    async with sim.session.delete(sim.url("/_sim/contacts/3")) as response:
        assert response.status == 204
    assert (await sim.get("/company/contacts/3"))[0] == 404
    async with sim.session.patch(sim.url("/_sim/assets/4"), json={"colour": "red"}) as response:
        assert response.status == 400
    async with sim.session.delete(sim.url("/_sim/widgets/1")) as response:
        assert response.status == 404


async def test_sim_endpoints_arm_faults_and_expose_the_request_log(sim: Sim) -> None:
    fault = {"kind": "status", "prefix": API + "/service", "status": 502, "count": 2}
    async with sim.session.post(sim.url("/_sim/faults"), json=fault) as response:
        assert response.status == 204
    assert [(await sim.get("/service/boards"))[0] for _ in range(3)] == [502, 502, 200]
    async with sim.session.get(sim.url("/_sim/requests")) as response:
        logged = await response.json()
    assert [e["path"] for e in logged] == [API + "/service/boards"] * 3
    async with sim.session.post(sim.url("/_sim/faults"), json={"kind": "boom"}) as response:
        assert response.status == 400
    async with sim.session.delete(sim.url("/_sim/requests")) as response:
        assert response.status == 204
    assert len(sim.app[REQUEST_LOG_KEY]) == 0


async def test_corrupt_overrides_change_only_the_wire_record(sim: Sim) -> None:
    sim.ds.corrupt("companies", 1, "name", None)
    sim.ds.corrupt("companies", 2, "id", "abc")
    sim.ds.corrupt("companies", 3, "status/name", 42)
    sim.ds.corrupt("companies", 4, "website", DELETE)
    body = await sim.body("/company/companies", pageSize=5)
    assert body[0]["name"] is None and body[1]["id"] == "abc"
    assert body[2]["status"]["name"] == 42 and body[3]["status"]["name"] != 42
    assert "website" not in body[3] and "website" in body[4]
    assert sim.ds.companies[1].name
    sim.ds.clear_corruption()
    assert (await sim.body("/company/companies/1"))["name"] == sim.ds.companies[1].name


async def test_sim_corrupt_endpoint_sets_and_drops_keys(sim: Sim) -> None:
    async with sim.session.post(sim.url("/_sim/corrupt"), json={
            "entity": "assets", "id": 1, "field": "serialNumber", "value": 12345}) as response:
        assert response.status == 204
    async with sim.session.post(sim.url("/_sim/corrupt"), json={
            "entity": "assets", "id": 1, "field": "name", "delete": True}) as response:
        assert response.status == 204
    asset = await sim.body("/company/configurations/1")
    assert asset["serialNumber"] == 12345 and "name" not in asset


# --- dataset ------------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_dataset() -> None:
    a, b = small_dataset(), small_dataset()
    for entity in ("companies", "sites", "assets", "contacts", "tickets", "ticket_statuses"):
        assert a.records(entity) == b.records(entity)
    other = Dataset.generate(43, companies=12, assets=60, contacts=30, tickets=40)
    assert other.records("assets") != a.records("assets")


def test_generated_data_is_consistent() -> None:
    ds = small_dataset()
    assert sum(s.is_default for s in ds.records("company_statuses")) == 1
    assert len(ds.records("company_types")) == 4
    for company in ds.records("companies"):
        sites = [ds.sites[i] for i in ds.children("sites", company.id)]
        assert [s.primary for s in sites] == [True, False]
    for ticket in ds.records("tickets"):
        status = ds.ticket_statuses[ticket.status_id]
        assert status.board_id == ticket.board_id and status.closed == ticket.closed
        if ticket.contact_id is not None:
            assert ds.contacts[ticket.contact_id].company_id == ticket.company_id
    for asset in ds.records("assets"):
        assert set(asset.custom_fields) == {f.caption for f in ds.asset_fields}
        assert BASE_TIME <= asset.updated_at <= BASE_TIME + SPAN
    assert len({c.identifier for c in ds.records("companies")}) == 12


def test_clock_is_strictly_increasing_and_not_before_the_data_or_real_time() -> None:
    ds = small_dataset()
    newest = max(a.updated_at for a in ds.records("assets"))
    real = datetime.now(UTC)
    stamps = [ds.now() for _ in range(50)]
    assert stamps == sorted(set(stamps))
    assert stamps[0] > newest + timedelta(seconds=1) and stamps[0] >= real


def test_touch_random_changes_the_requested_share() -> None:
    ds = Dataset.generate(9, companies=20, assets=400, contacts=100)
    cursor = datetime.now(UTC)
    touched = ds.touch_random(0.05, random.Random(1))
    assert len(touched["assets"]) == 20 and len(touched["contacts"]) == 5
    assert sorted(a.id for a in ds.records("assets") if a.updated_at >= cursor) == touched["assets"]


def test_deletes_and_parent_changes_keep_the_indexes_straight() -> None:
    ds = small_dataset()
    site = ds.add("sites", company_id=1, name="Extra")
    assert ds.children("sites", 1)[-1] == site.id
    ds.update("sites", site.id, company_id=2)
    assert site.id not in ds.children("sites", 1) and site.id in ds.children("sites", 2)
    ds.delete("sites", site.id)
    assert site.id not in ds.children("sites", 2) and site.id not in ds.ids("sites")
    with pytest.raises(KeyError):
        ds.delete("sites", site.id)
    with pytest.raises(ValueError):
        ds.update("assets", 1, colour="red")


def test_a_medium_dataset_generates() -> None:
    ds = Dataset.generate(3, companies=500, sites_per_company=2, assets=10_000, contacts=5_000,
                          tickets=1_000)
    assert ds.count("assets") == 10_000 and ds.count("sites") == 1_000
    assert ds.ids("contacts") == sorted(ds.ids("contacts"))
