"""``POST /system/bundles`` on the ConnectWise simulator: many reads in one call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from psad.simulators import FAULTS_KEY, REQUEST_LOG_KEY
from psad.simulators.connectwise import create_app
from psad.simulators.dataset import Dataset
from sim_harness import CW_API as API
from sim_harness import CW_AUTH as AUTH
from sim_harness import ServerFactory


@pytest.fixture
async def server(aiohttp_server: ServerFactory) -> AsyncIterator[TestServer]:
    dataset = Dataset.generate(42, companies=12, sites_per_company=2, assets=20, contacts=10,
                               tickets=5, boards=3)
    yield await aiohttp_server(create_app(dataset, bundle_limit=5))


async def post(server: TestServer, path: str, body: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url(API + path), json=body, headers=AUTH) as resp:
            return resp.status, await resp.json(content_type=None)


async def get(server: TestServer, path: str, **params: Any) -> Any:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.make_url(API + path), params=params, headers=AUTH) as resp:
            assert resp.status == 200
            return await resp.json()


def sites_of(company_id: int, seq: int, conditions: str = "") -> dict[str, Any]:
    return {"sequenceNumber": seq, "resourceType": "site", "version": "2025.1",
            "apiRequest": {"parentId": company_id, "filters": {"conditions": conditions},
                           "page": {"page": 1, "pageSize": 1000}}}


async def company_ids(server: TestServer) -> list[int]:
    return [c["id"] for c in await get(server, "/company/companies", pageSize=100,
                                        fields="id")]


async def test_a_bundle_answers_each_read_as_the_single_call_would(server: TestServer) -> None:
    companies = (await company_ids(server))[:3]
    status, body = await post(server, "/system/bundles",
                              {"requests": [sites_of(c, n) for n, c in enumerate(companies)]})
    assert status == 200
    for n, company in enumerate(companies):
        result = body["results"][n]
        single = await get(server, f"/company/companies/{company}/sites", pageSize=1000)
        assert result["sequenceNumber"] == n and result["resourceType"] == "site"
        assert result["success"] is True and result["statusCode"] == 200
        assert result["entities"] == single and result["count"] == len(single)
        assert "error" not in result


async def test_request_names_bind_whatever_their_case(server: TestServer) -> None:
    """The vendor's developer page writes them in PascalCase, its OpenAPI document in
    camelCase; the server reads either."""
    company = (await company_ids(server))[0]
    status, body = await post(server, "/system/bundles", {"Requests": [
        {"SequenceNumber": 1, "ResourceType": "site",
         "ApiRequest": {"ParentId": company, "Filters": {"Conditions": "name != \"\""},
                        "Page": {"PageSize": 1}}},
        sites_of(company, 2)]})
    assert status == 200
    pascal, camel = body["results"]
    assert pascal["sequenceNumber"] == 1 and pascal["entities"] == camel["entities"][:1]


async def test_a_bundle_is_one_request_in_the_log_and_the_rate_limit(server: TestServer) -> None:
    companies = (await company_ids(server))[:5]
    server.app[REQUEST_LOG_KEY].clear()
    server.app[FAULTS_KEY].limit_rate(1, 60)
    status, body = await post(server, "/system/bundles",
                              {"requests": [sites_of(c, n) for n, c in enumerate(companies)]})
    assert status == 200 and len(body["results"]) == 5
    assert len(server.app[REQUEST_LOG_KEY]) == 1


async def test_one_failed_read_fails_alone_with_its_status_and_error(server: TestServer) -> None:
    good = (await company_ids(server))[0]
    status, body = await post(server, "/system/bundles", {"requests": [
        sites_of(good, 1), sites_of(999_999, 2), sites_of(good, 3, "name ==== 1")]})
    assert status == 207
    ok, missing, bad = body["results"]
    assert ok["success"] is True and ok["entities"]
    assert missing["success"] is False and missing["statusCode"] == 404
    assert missing["error"]["code"] == "NotFound" and missing["entities"] == []
    assert bad["success"] is False and bad["statusCode"] == 400 and bad["error"]["message"]


async def test_a_fault_armed_for_the_single_call_fails_the_same_bundled_read(
        server: TestServer) -> None:
    first, second = (await company_ids(server))[:2]
    server.app[FAULTS_KEY].status(f"{API}/company/companies/{second}/sites", 500)
    status, body = await post(server, "/system/bundles",
                              {"requests": [sites_of(first, 1), sites_of(second, 2)]})
    assert status == 207
    assert [r["statusCode"] for r in body["results"]] == [200, 500]


async def test_a_bundle_over_the_limit_is_refused_whole(server: TestServer) -> None:
    companies = (await company_ids(server))[:6]
    status, body = await post(server, "/system/bundles",
                              {"requests": [sites_of(c, n) for n, c in enumerate(companies)]})
    assert status == 400 and "at most 5" in body["message"]
    status, body = await post(server, "/system/bundles", {"requests": []})
    assert status == 400 and body["code"] == "InvalidObject"


async def test_changed_since_conditions_and_the_count_variant(server: TestServer) -> None:
    company = (await company_ids(server))[0]
    everything = await get(server, f"/company/companies/{company}/sites", pageSize=1000)
    newest = max(s["_info"]["lastUpdated"] for s in everything)
    status, body = await post(server, "/system/bundles", {"requests": [
        sites_of(company, 1, f"lastUpdated>=[{newest}]"),
        sites_of(company, 2, "lastUpdated>[2999-01-01T00:00:00Z]")]})
    assert status == 200
    changed, none = body["results"]
    assert changed["entities"] and all(s["_info"]["lastUpdated"] >= newest
                                       for s in changed["entities"])
    assert none["entities"] == []
    status, body = await post(server, "/system/bundles/count", {"requests": [sites_of(company, 7)]})
    assert status == 200
    assert body["results"][0]["count"] == len(everything)
    assert body["results"][0]["entities"] == []
