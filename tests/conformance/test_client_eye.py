"""Each simulator driven as a generic client would drive the real PSA.

No psad code on the client side: plain HTTP, the vendor's documented auth flow and
encodings, paging to the end by the vendor's own rule, filtering with every operator the
vendor documents (the answer compared with the same filter applied to the full list), and
every 200 answer checked against the vendored spec subset on the way.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from psad.simulators import autotask, connectwise, halo, kaseya_bms, syncro
from psad.simulators.dataset import Dataset
from sim_harness import Serve
from spec_check import Spec


def dataset() -> Dataset:
    return Dataset.generate(23, companies=45, sites_per_company=1, assets=40, contacts=40,
                            tickets=30, boards=2)


class Client:
    """An HTTP client that checks every 200 JSON answer against the vendor's spec."""

    def __init__(self, session: aiohttp.ClientSession, root: str, spec: Spec,
                 headers: dict[str, str] | None = None) -> None:
        self.session = session
        self.root = root
        self.spec = spec
        self.headers = headers or {}
        self.refresh_token = ""

    async def call(self, method: str, url: str, *, check: bool = True,
                   **kwargs: Any) -> tuple[int, Any, Any]:
        """(status, response headers, JSON body) for ``url`` (absolute or under the root)."""
        target = url if url.startswith("http") else self.root + url
        headers = {**self.headers, **kwargs.pop("headers", {})}
        async with self.session.request(method, target, headers=headers, **kwargs) as resp:
            body = await resp.json(content_type=None)
            if check and resp.status == 200:
                errors = self.spec.response_errors(method, resp.url.path, body)
                assert errors == [], errors[:5]
            return resp.status, resp.headers, body


# --- ConnectWise ------------------------------------------------------------------------------


@pytest.fixture
async def cw(serve: Serve, session: aiohttp.ClientSession) -> Client:
    root = await serve(connectwise.create_app(dataset(), company_id="acme", public_key="pub",
                                              private_key="priv"))
    # The documented flow: company info names the codebase, then Basic + clientId.
    async with session.get(root + "/login/companyinfo/acme") as resp:
        codebase = (await resp.json())["Codebase"]
    token = base64.b64encode(b"acme+pub:priv").decode()
    return Client(session, f"{root}/{codebase}apis/3.0", Spec.for_kind("connectwise"), {
        "Authorization": f"Basic {token}", "clientId": connectwise.DEFAULT_CLIENT_ID,
        "Accept": "application/vnd.connectwise.com+json; version=2025.1"})


def next_link(link: str) -> str | None:
    for part in link.split(","):
        url, _, rel = part.partition(";")
        if rel.strip() == 'rel="next"':
            return url.strip()[1:-1]
    return None


async def cw_all(cw: Client, path: str, params: dict[str, str] | None = None) -> list[Any]:
    status, _, rows = await cw.call("GET", path, params={**(params or {}), "pageSize": "1000"})
    assert status == 200 and len(rows) < 1000
    return list(rows)


async def test_cw_client_pages_to_the_end_by_link_forward_only_and_short_page(cw: Client) -> None:
    every = [c["id"] for c in await cw_all(cw, "/company/companies")]
    seen, url = [], cw.root + "/company/companies?pageSize=7"
    while url:
        status, headers, rows = await cw.call("GET", url)
        assert status == 200
        seen += [c["id"] for c in rows]
        url = next_link(headers.get("Link", ""))
    assert seen == every
    keyset, url = [], cw.root + "/company/companies?pageSize=7"
    while url:
        _, headers, rows = await cw.call("GET", url, headers={"pagination-type": "forward-only"})
        keyset += [c["id"] for c in rows]
        url = next_link(headers.get("Link", ""))
    assert keyset == every
    short, page = [], 1  # django-connectwise: stop on a short page, ignore Link
    while True:
        _, _, rows = await cw.call("GET", "/company/companies",
                                   params={"page": str(page), "pageSize": "10"})
        short += [c["id"] for c in rows]
        if len(rows) < 10:
            break
        page += 1
    assert short == every


CW_CONDITIONS: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("id = 3", lambda c: c["id"] == 3),
    ("id != 3", lambda c: c["id"] != 3),
    ("id <> 3", lambda c: c["id"] != 3),
    ("id < 5", lambda c: c["id"] < 5),
    ("id <= 5", lambda c: c["id"] <= 5),
    ("id > 40", lambda c: c["id"] > 40),
    ("id >= 40", lambda c: c["id"] >= 40),
    ('name contains "an"', lambda c: "an" in c["name"].casefold()),
    ('name not contains "an"', lambda c: "an" not in c["name"].casefold()),
    ('name like "b%"', lambda c: c["name"].casefold().startswith("b")),
    ('name not like "%s"', lambda c: not c["name"].casefold().endswith("s")),
    ("id in (1, 4, 9)", lambda c: c["id"] in (1, 4, 9)),
    ("id not in (1, 4, 9)", lambda c: c["id"] not in (1, 4, 9)),
    ("deletedFlag = false", lambda c: c["deletedFlag"] is False),
    ('(id < 3 OR id > 42) AND name != "nobody"', lambda c: c["id"] < 3 or c["id"] > 42),
]


@pytest.mark.parametrize(("conditions", "wanted"), CW_CONDITIONS, ids=[c for c, _ in CW_CONDITIONS])
async def test_cw_every_documented_condition_operator_filters_as_documented(
        cw: Client, conditions: str, wanted: Callable[[dict[str, Any]], bool]) -> None:
    every = await cw_all(cw, "/company/companies")
    found = await cw_all(cw, "/company/companies", {"conditions": conditions})
    assert [c["id"] for c in found] == [c["id"] for c in every if wanted(c)]
    _, _, counted = await cw.call("GET", "/company/companies/count",
                                  params={"conditions": conditions})
    assert counted == {"count": len(found)}


async def test_cw_dates_compare_in_brackets_and_order_by_sorts(cw: Client) -> None:
    every = await cw_all(cw, "/company/companies")
    cut = sorted(c["_info"]["lastUpdated"] for c in every)[len(every) // 2]
    newer = await cw_all(cw, "/company/companies", {"conditions": f"lastUpdated > [{cut}]"})
    assert [c["id"] for c in newer] == [c["id"] for c in every if c["_info"]["lastUpdated"] > cut]
    ordered = await cw_all(cw, "/company/companies", {"orderBy": "name desc"})
    names = [c["name"].casefold() for c in ordered]
    assert names == sorted(names, reverse=True)


async def test_cw_lookup_lists_clients_resolve_names_with_are_served_as_specified(
        cw: Client) -> None:
    for path in ("/company/contacts/types", "/company/configurations/types",
                 "/company/configurations/statuses", "/company/companies/types",
                 "/service/priorities", "/system/info"):
        status, _, _ = await cw.call("GET", path)
        assert status == 200, path


# --- Autotask ---------------------------------------------------------------------------------


@pytest.fixture
async def at(serve: Serve, session: aiohttp.ClientSession) -> Client:
    root = await serve(autotask.create_app(dataset()))
    spec = Spec.for_kind("autotask")
    # Zone discovery needs no credentials; header names are case-insensitive.
    discover = Client(session, root + "/ATServicesRest", spec)
    _, _, zone = await discover.call("GET", "/V1.0/zoneInformation",
                                     params={"user": autotask.DEMO_USERNAME})
    return Client(session, zone["url"] + "V1.0", spec, {
        "username": autotask.DEMO_USERNAME, "secret": autotask.DEMO_SECRET,
        "apiintegrationcode": autotask.DEMO_INTEGRATION_CODE})


async def at_all(at: Client, entity: str, filters: list[Any], page: int = 500) -> list[Any]:
    """Every match, following ``nextPageUrl`` with the same body POSTed again."""
    body = {"MaxRecords": page, "filter": filters}
    items: list[Any] = []
    url: str | None = f"/{entity}/query"
    while url:
        status, _, answer = await at.call("POST", url, json=body)
        assert status == 200, answer
        items += answer["items"]
        url = answer["pageDetails"]["nextPageUrl"]
    return items


EVERYTHING = [{"op": "gte", "field": "id", "value": 0}]


async def test_at_client_pages_to_the_end_by_next_page_url(at: Client) -> None:
    every = [c["id"] for c in await at_all(at, "Companies", EVERYTHING)]
    assert [c["id"] for c in await at_all(at, "Companies", EVERYTHING, page=7)] == every
    _, _, counted = await at.call("POST", "/Companies/query/count", json={"filter": EVERYTHING})
    assert counted == {"queryCount": len(every)}


AT_FILTERS: list[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
    ({"op": "eq", "field": "id", "value": 5}, lambda c: c["id"] == 5),
    ({"op": "noteq", "field": "id", "value": 5}, lambda c: c["id"] != 5),
    ({"op": "gt", "field": "id", "value": 40}, lambda c: c["id"] > 40),
    ({"op": "gte", "field": "id", "value": 40}, lambda c: c["id"] >= 40),
    ({"op": "lt", "field": "id", "value": 4}, lambda c: c["id"] < 4),
    ({"op": "lte", "field": "id", "value": 4}, lambda c: c["id"] <= 4),
    ({"op": "beginsWith", "field": "companyName", "value": "b"},
     lambda c: c["companyName"].casefold().startswith("b")),
    ({"op": "endsWith", "field": "companyName", "value": "s"},
     lambda c: c["companyName"].casefold().endswith("s")),
    ({"op": "contains", "field": "companyName", "value": "an"},
     lambda c: "an" in c["companyName"].casefold()),
    ({"op": "exist", "field": "webAddress"}, lambda c: bool(c["webAddress"])),
    ({"op": "notExist", "field": "webAddress"}, lambda c: not c["webAddress"]),
    ({"op": "in", "field": "id", "value": [2, 3, 11]}, lambda c: c["id"] in (2, 3, 11)),
    ({"op": "notIn", "field": "id", "value": [2, 3, 11]}, lambda c: c["id"] not in (2, 3, 11)),
    ({"op": "eq", "field": "isActive", "value": "true"}, lambda c: c["isActive"] is True),
    ({"op": "or", "items": [{"op": "lt", "field": "id", "value": 3},
                            {"op": "gt", "field": "id", "value": 43}]},
     lambda c: c["id"] < 3 or c["id"] > 43),
    ({"op": "and", "items": [{"op": "gt", "field": "id", "value": 3},
                             {"op": "lt", "field": "id", "value": 8}]},
     lambda c: 3 < c["id"] < 8),
]


@pytest.mark.parametrize(("condition", "wanted"), AT_FILTERS,
                         ids=[f"{f['op']}-{f.get('field', '')}" for f, _ in AT_FILTERS])
async def test_at_every_documented_filter_operator_filters_as_documented(
        at: Client, condition: dict[str, Any], wanted: Callable[[dict[str, Any]], bool]) -> None:
    every = await at_all(at, "Companies", EVERYTHING)
    found = await at_all(at, "Companies", [condition])
    assert [c["id"] for c in found] == [c["id"] for c in every if wanted(c)]


async def test_at_get_query_with_search_parameter_answers_like_post(at: Client) -> None:
    search = json.dumps({"filter": [{"op": "lt", "field": "id", "value": 6}]})
    status, _, answer = await at.call("GET", "/Companies/query", params={"search": search})
    assert status == 200 and [c["id"] for c in answer["items"]] == [1, 2, 3, 4, 5]


# --- Syncro -----------------------------------------------------------------------------------


@pytest.fixture
async def sy(serve: Serve, session: aiohttp.ClientSession) -> Client:
    root = await serve(syncro.create_app(dataset()))
    return Client(session, root + "/api/v1", Spec.for_kind("syncro"),
                  {"Authorization": f"Bearer {syncro.DEFAULT_API_KEY}"})


async def test_syncro_client_pages_by_total_pages_with_either_documented_auth(
        sy: Client) -> None:
    by_meta: list[int] = []
    page, pages = 1, 1
    while page <= pages:
        status, _, answer = await sy.call("GET", "/customers",
                                          params={"page": str(page), "include_disabled": "true"})
        assert status == 200
        by_meta += [c["id"] for c in answer["customers"]]
        pages = answer["meta"]["total_pages"]
        page += 1
    assert by_meta == sorted(by_meta) and len(by_meta) == 45
    until_empty, page = [], 1  # n8n: page until an empty page, the key as ?api_key=
    key_in_query = Client(sy.session, sy.root, sy.spec)
    while True:
        _, _, answer = await key_in_query.call("GET", "/customers", params={
            "page": str(page), "include_disabled": "true", "api_key": syncro.DEFAULT_API_KEY})
        if not answer["customers"]:
            break
        until_empty += [c["id"] for c in answer["customers"]]
        page += 1
    assert until_empty == by_meta
    status, _, _ = await sy.call("GET", "/customers", headers={"Authorization": "Bearer wrong"})
    assert status == 401


# --- Kaseya BMS -------------------------------------------------------------------------------


@pytest.fixture
async def bms(serve: Serve, session: aiohttp.ClientSession) -> Client:
    root = await serve(kaseya_bms.create_app(dataset()))
    client = Client(session, root + "/v2", Spec.for_kind("kaseya_bms"))
    status, _, answer = await client.call("POST", "/security/authenticate", data={
        "GrantType": "password", "UserName": kaseya_bms.DEMO_USERNAME,
        "Password": kaseya_bms.DEMO_PASSWORD, "Tenant": kaseya_bms.DEMO_TENANT})
    assert status == 200 and answer["success"] is True
    client.headers["Authorization"] = f"Bearer {answer['result']['accessToken']}"
    client.refresh_token = answer["result"]["refreshToken"]
    return client


async def test_bms_client_pages_by_total_records_and_renews_its_token(bms: Client) -> None:
    ids: list[int] = []
    number, total = 1, 1
    while len(ids) < total:
        status, _, answer = await bms.call("GET", "/crm/accounts/summary",
                                           params={"pageNumber": str(number), "pagesize": "8"})
        assert status == 200 and answer["success"] is True
        ids += [a["id"] for a in answer["result"]]
        total = answer["totalRecords"]
        number += 1
    assert len(set(ids)) == total == 45
    access = bms.headers["Authorization"].split()[1]
    status, _, renewed = await bms.call("POST", "/security/refreshtoken", data={
        "AccessToken": access, "RefreshToken": bms.refresh_token})
    assert status == 200 and renewed["result"]["accessToken"] != access
    bms.headers["Authorization"] = f"Bearer {renewed['result']['accessToken']}"
    status, _, _ = await bms.call("GET", "/system/queues/lookup")
    assert status == 200


async def test_bms_filters_narrow_the_list(bms: Client) -> None:
    _, _, every = await bms.call("GET", "/crm/accounts/summary", params={"PageSize": "100"})
    name = every["result"][3]["accountName"]
    _, _, found = await bms.call("GET", "/crm/accounts/summary",
                                 params={"PageSize": "100", "Filter.AccountName": name})
    assert found["result"] and all(name.casefold() in a["accountName"].casefold()
                                   for a in found["result"])
    assert found["totalRecords"] < every["totalRecords"]


# --- HaloPSA ----------------------------------------------------------------------------------


@pytest.fixture
async def ha(serve: Serve, session: aiohttp.ClientSession) -> Client:
    root = await serve(halo.create_app(dataset()))
    spec = Spec.for_kind("halo")
    auth = Client(session, root, spec)
    status, _, token = await auth.call("POST", "/auth/token", params={"tenant": halo.DEMO_TENANT},
                                       data={"grant_type": "client_credentials",
                                             "client_id": halo.DEMO_CLIENT_ID,
                                             "client_secret": halo.DEMO_CLIENT_SECRET,
                                             "scope": "all"})
    assert status == 200 and token["token_type"] == "Bearer"
    return Client(session, root + "/api", spec,
                  {"Authorization": f"Bearer {token['access_token']}"})


async def test_halo_client_pages_by_record_count_or_until_an_empty_page(ha: Client) -> None:
    params = {"pageinate": "true", "page_size": "10", "includeinactive": "true"}
    by_count: list[int] = []
    page, total = 1, 1
    while len(by_count) < total:
        status, _, answer = await ha.call("GET", "/Client", params={**params, "page_no": str(page)})
        assert status == 200
        by_count += [c["id"] for c in answer["clients"]]
        total = answer["record_count"]
        page += 1
    until_empty, page = [], 1
    while True:  # paths are case-insensitive on Halo
        _, _, answer = await ha.call("GET", "/client", params={**params, "page_no": str(page)})
        if not answer["clients"]:
            break
        until_empty += [c["id"] for c in answer["clients"]]
        page += 1
    assert until_empty == by_count and len(by_count) == total == 45


async def test_halo_lookups_are_bare_arrays_and_closed_statuses_can_be_left_out(
        ha: Client) -> None:
    _, _, every = await ha.call("GET", "/Status", params={"type": "ticket"})
    _, _, still_open = await ha.call("GET", "/Status", params={"type": "ticket",
                                                               "excludeclosed": "true"})
    assert {s["id"] for s in still_open} < {s["id"] for s in every}
    for path in ("/Team", "/Priority"):
        status, _, rows = await ha.call("GET", path)
        assert status == 200 and isinstance(rows, list) and rows
