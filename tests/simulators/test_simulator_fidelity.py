"""Behaviours real PSA clients rely on, that the simulators once got wrong (issue 16).

Each test drives a simulator over loopback as an off-the-shelf client would.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from psad.simulators import REQUEST_LOG_KEY, autotask, connectwise, halo, kaseya_bms
from psad.simulators.autotask.fields import ENTITY_FIELDS
from psad.simulators.dataset import Dataset
from sim_harness import CW_API, CW_AUTH, Serve


def dataset() -> Dataset:
    return Dataset.generate(16, companies=40, sites_per_company=1, assets=30, contacts=30,
                            tickets=20, boards=2)


@pytest.fixture
async def cw(serve: Serve) -> str:
    return await serve(connectwise.create_app(dataset())) + CW_API


async def get_json(session: aiohttp.ClientSession, url: str, *, params: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with session.get(url, params=params, headers=CW_AUTH if headers is None else headers) as resp:
        return resp.status, await resp.json(content_type=None)


# --- ConnectWise --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pagesize", "PAGESIZE", "PageSize", "pageSize"])
async def test_cw_page_size_parameter_name_matches_in_any_case(
        cw: str, session: aiohttp.ClientSession, name: str) -> None:
    status, body = await get_json(session, cw + "/company/companies", params={name: "7"})
    assert status == 200 and len(body) == 7


async def test_cw_conditions_and_order_by_names_match_in_any_case(
        cw: str, session: aiohttp.ClientSession) -> None:
    _, body = await get_json(session, cw + "/company/companies",
                             params={"CONDITIONS": "id<=5", "orderby": "id desc", "PAGE": "1"})
    assert [c["id"] for c in body] == [5, 4, 3, 2, 1]


async def test_cw_list_path_with_a_trailing_slash_is_served(
        cw: str, session: aiohttp.ClientSession) -> None:
    status, with_slash = await get_json(session, cw + "/company/companies/", params={"pageSize": 3})
    _, without = await get_json(session, cw + "/company/companies", params={"pageSize": 3})
    assert status == 200 and with_slash == without


@pytest.mark.parametrize("param", ["childConditions", "customFieldConditions", "childconditions"])
@pytest.mark.parametrize("text", ["(((", 'types/name = "x', "nosuchfield = 1"])
async def test_cw_malformed_child_and_custom_field_conditions_are_a_400(
        cw: str, session: aiohttp.ClientSession, param: str, text: str) -> None:
    status, body = await get_json(session, cw + "/company/contacts", params={param: text})
    assert status == 400 and body["code"] == "InvalidObject"
    assert body["errors"][0]["field"].lower() == param.lower()


async def test_cw_child_conditions_filter_on_the_records_children(
        cw: str, session: aiohttp.ClientSession) -> None:
    _, every = await get_json(session, cw + "/company/contacts", params={"pageSize": 1000})
    billing = {c["id"] for c in every if any(t["name"] == "Billing" for t in c.get("types", []))}
    assert billing and len(billing) < len(every)
    _, found = await get_json(session, cw + "/company/contacts", params={
        "pageSize": 1000, "childConditions": 'types/name = "Billing"'})
    assert {c["id"] for c in found} == billing
    mailed = {c["id"] for c in every
              if any(i["communicationType"] == "Email" for i in c.get("communicationItems", []))}
    _, with_mail = await get_json(session, cw + "/company/contacts", params={
        "pageSize": 1000, "childConditions": 'communicationItems/communicationType = "Email"'})
    assert {c["id"] for c in with_mail} == mailed


async def test_cw_custom_field_conditions_match_one_custom_field_entry(
        cw: str, session: aiohttp.ClientSession) -> None:
    _, every = await get_json(session, cw + "/company/configurations", params={"pageSize": 1000})
    field = next(f for c in every for f in c["customFields"] if "value" in f
                 and isinstance(f["value"], str))
    wanted = {c["id"] for c in every
              if any(f["caption"] == field["caption"] and f.get("value") == field["value"]
                     for f in c["customFields"])}
    _, found = await get_json(session, cw + "/company/configurations", params={
        "pageSize": 1000,
        "customFieldConditions": f'caption = "{field["caption"]}" and value = "{field["value"]}"'})
    assert {c["id"] for c in found} == wanted and len(wanted) < len(every)
    status, counted = await get_json(session, cw + "/company/configurations/count", params={
        "customFieldConditions": f'caption = "{field["caption"]}" and value = "{field["value"]}"'})
    assert status == 200 and counted == {"count": len(wanted)}


async def test_cw_tickets_carry_the_vendor_ticket_model_fields(
        cw: str, session: aiohttp.ClientSession) -> None:
    _, tickets = await get_json(session, cw + "/service/tickets", params={"pageSize": 5})
    for ticket in tickets:
        for key in ("customerUpdatedFlag", "severity", "impact", "approved", "isInSla",
                    "billTime", "location", "department", "hasChildTicket", "company"):
            assert key in ticket, key


async def test_cw_boards_carry_the_required_location_and_department(
        cw: str, session: aiohttp.ClientSession) -> None:
    _, boards = await get_json(session, cw + "/service/boards")
    assert boards and all(b["location"]["name"] and b["department"]["identifier"] for b in boards)


async def test_cw_absent_values_are_left_out_not_sent_as_null(
        cw: str, session: aiohttp.ClientSession) -> None:
    def nulls(value: Any, path: str = "") -> list[str]:
        if isinstance(value, dict):
            return [p for k, v in value.items() for p in nulls(v, f"{path}/{k}")]
        if isinstance(value, list):
            return [p for v in value for p in nulls(v, path)]
        return [path] if value is None else []

    for path in ("/company/companies", "/company/configurations", "/company/contacts",
                 "/service/tickets", "/company/companies/statuses"):
        _, rows = await get_json(session, cw + path, params={"pageSize": 1000})
        assert rows and nulls(rows) == [], path
    _, open_ticket = await get_json(session, cw + "/service/tickets",
                                    params={"conditions": "closedFlag = false", "pageSize": 1})
    assert "closedDate" not in open_ticket[0]


@pytest.mark.parametrize(("path", "key"), [("/company/contacts/types", "description"),
                                           ("/company/configurations/types", "name"),
                                           ("/company/configurations/statuses", "description")])
async def test_cw_name_lookups_clients_resolve_against_are_served(
        cw: str, session: aiohttp.ClientSession, path: str, key: str) -> None:
    status, rows = await get_json(session, cw + path)
    assert status == 200 and rows and all(isinstance(r[key], str) for r in rows)
    status, one = await get_json(session, cw + f"{path}/{rows[0]['id']}")
    assert status == 200 and one == rows[0]
    _, counted = await get_json(session, cw + path + "/count")
    assert counted == {"count": len(rows)}


async def test_cw_lookup_names_match_the_names_on_records(
        cw: str, session: aiohttp.ClientSession) -> None:
    _, statuses = await get_json(session, cw + "/company/configurations/statuses")
    _, types = await get_json(session, cw + "/company/configurations/types")
    _, configurations = await get_json(session, cw + "/company/configurations",
                                       params={"pageSize": 1000})
    status_ids = {s["description"]: s["id"] for s in statuses}
    type_ids = {t["name"]: t["id"] for t in types}
    for c in configurations:
        assert status_ids[c["status"]["name"]] == c["status"]["id"]
        assert type_ids[c["type"]["name"]] == c["type"]["id"]


@pytest.mark.parametrize("version", ["2019.1", "2025.8", "2030.2", '"2025.1"'])
async def test_cw_accept_header_version_is_served_from_2019_1_on(
        cw: str, session: aiohttp.ClientSession, version: str) -> None:
    headers = {**CW_AUTH, "Accept": f"application/vnd.connectwise.com+json; version={version}"}
    async with session.get(cw + "/company/companies", headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["api-current-version"] == connectwise.VERSION_CODE.lstrip("v")


@pytest.mark.parametrize("version", ["latest", "3.0", "2018.6", "2019"])
async def test_cw_accept_header_version_that_cannot_be_served_is_a_400(
        cw: str, session: aiohttp.ClientSession, version: str) -> None:
    headers = {**CW_AUTH, "Accept": f"application/vnd.connectwise.com+json; version={version}"}
    status, body = await get_json(session, cw + "/company/companies", headers=headers)
    assert status == 400 and body["errors"][0]["field"] == "Accept"


# --- Kaseya BMS ---------------------------------------------------------------------------------


async def bms_sign_in(session: aiohttp.ClientSession, url: str, data: Any) -> tuple[int, Any]:
    async with session.post(url + "/v2/security/authenticate", data=data) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_bms_sign_in_as_multipart_form_data_is_accepted_and_logged(
        serve: Callable[[web.Application], Coroutine[Any, Any, str]],
        session: aiohttp.ClientSession) -> None:
    app = kaseya_bms.create_app(dataset())
    url = await serve(app)
    form = aiohttp.MultipartWriter("form-data")  # what `curl -F` sends
    for key, value in (("GrantType", "password"), ("UserName", kaseya_bms.DEMO_USERNAME),
                       ("Password", kaseya_bms.DEMO_PASSWORD), ("Tenant", kaseya_bms.DEMO_TENANT)):
        form.append(value).set_content_disposition("form-data", name=key)
    status, body = await bms_sign_in(session, url, form)
    assert status == 200 and body["result"]["accessToken"]
    logged = app[REQUEST_LOG_KEY].entries[-1]
    assert logged.headers["Content-Type"].startswith("multipart/form-data")
    assert logged.body is not None and "GrantType=password" in logged.body
    assert kaseya_bms.DEMO_USERNAME.split("@")[0] in logged.body


async def test_bms_sign_in_form_urlencoded_still_works(
        serve: Callable[[web.Application], Coroutine[Any, Any, str]],
        session: aiohttp.ClientSession) -> None:
    url = await serve(kaseya_bms.create_app(dataset()))
    status, body = await bms_sign_in(session, url, {
        "grantType": "password", "userName": kaseya_bms.DEMO_USERNAME,
        "password": kaseya_bms.DEMO_PASSWORD, "tenant": kaseya_bms.DEMO_TENANT})
    assert status == 200 and body["success"] is True


# --- Autotask -----------------------------------------------------------------------------------


AT_HEADERS = {"UserName": autotask.DEMO_USERNAME, "Secret": autotask.DEMO_SECRET,
              "ApiIntegrationCode": autotask.DEMO_INTEGRATION_CODE}


@pytest.fixture
async def at(serve: Callable[[web.Application], Coroutine[Any, Any, str]],
             session: aiohttp.ClientSession) -> str:
    root = await serve(autotask.create_app(dataset()))
    async with session.get(root + "/ATServicesRest/V1.0/zoneInformation",
                           params={"user": autotask.DEMO_USERNAME}) as resp:
        zone = (await resp.json())["url"]
    return str(zone) + "V1.0"


async def at_query(session: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    async with session.post(url, json=body, headers=AT_HEADERS) as resp:
        return resp.status, await resp.json(content_type=None)


@pytest.mark.parametrize(("value", "active"), [("true", 1), ("false", 0), (True, 1), ("1", 1), (0, 0)])
async def test_at_integer_flag_filtered_with_a_boolean_is_coerced(
        at: str, session: aiohttp.ClientSession, value: Any, active: int) -> None:
    status, body = await at_query(session, at + "/Contacts/query", {
        "filter": [{"op": "eq", "field": "isActive", "value": value}]})
    assert status == 200 and body["items"]
    assert {c["isActive"] for c in body["items"]} == {active}


@pytest.mark.parametrize(("entity", "name"), [("Companies", "Company"), ("Contacts", "Contact"),
                                              ("ConfigurationItems", "ConfigurationItem"),
                                              ("CompanyLocations", "CompanyLocation"),
                                              ("Countries", "Country"), ("Tickets", "Ticket")])
async def test_at_entity_information_names_the_entity_in_the_singular(
        at: str, session: aiohttp.ClientSession, entity: str, name: str) -> None:
    async with session.get(f"{at}/{entity}/entityInformation", headers=AT_HEADERS) as resp:
        assert (await resp.json())["info"]["name"] == name


@pytest.mark.parametrize("entity", sorted(ENTITY_FIELDS))
async def test_at_records_carry_every_field_of_their_entity(
        at: str, session: aiohttp.ClientSession, entity: str) -> None:
    _, body = await at_query(session, f"{at}/{entity}/query", {
        "filter": [{"op": "gte", "field": "id", "value": 0}], "MaxRecords": 5})
    assert body["items"]
    for item in body["items"]:
        assert set(ENTITY_FIELDS[entity]) <= set(item), entity


# --- HaloPSA ------------------------------------------------------------------------------------


async def halo_token(session: aiohttp.ClientSession, url: str, *,
                     host: str | None = None) -> int:
    form = {"grant_type": "client_credentials", "client_id": halo.DEMO_CLIENT_ID,
            "client_secret": halo.DEMO_CLIENT_SECRET, "scope": "all"}
    headers = {"Host": host} if host else {}
    async with session.post(url, data=form, headers=headers) as resp:
        return resp.status


async def test_halo_token_needs_no_tenant_parameter_on_the_tenants_own_hostname(
        serve: Callable[[web.Application], Coroutine[Any, Any, str]],
        session: aiohttp.ClientSession) -> None:
    url = await serve(halo.create_app(dataset())) + "/auth/token"
    assert await halo_token(session, url, host=f"{halo.DEMO_TENANT}.halopsa.com") == 200
    assert await halo_token(session, url + f"?tenant={halo.DEMO_TENANT}") == 200
    assert await halo_token(session, url, host="someoneelse.halopsa.com") == 400
    assert await halo_token(session, url) == 400  # a bare address names no tenant
    assert await halo_token(session, url + "?tenant=someoneelse",
                            host=f"{halo.DEMO_TENANT}.halopsa.com") == 400


async def test_halo_status_and_priority_carry_only_schema_fields_and_closed_is_queryable(
        serve: Callable[[web.Application], Coroutine[Any, Any, str]],
        session: aiohttp.ClientSession) -> None:
    url = await serve(halo.create_app(dataset()))
    async with session.post(url + f"/auth/token?tenant={halo.DEMO_TENANT}", data={
            "grant_type": "client_credentials", "client_id": halo.DEMO_CLIENT_ID,
            "client_secret": halo.DEMO_CLIENT_SECRET, "scope": "all"}) as resp:
        headers = {"Authorization": "Bearer " + (await resp.json())["access_token"]}
    async with session.get(url + "/api/Status", params={"type": "ticket"}, headers=headers) as resp:
        statuses = await resp.json()
    async with session.get(url + "/api/Status", params={"type": "ticket", "excludeclosed": "true"},
                           headers=headers) as resp:
        still_open = await resp.json()
    async with session.get(url + "/api/Priority", headers=headers) as resp:
        priorities = await resp.json()
    assert all("isclosed" not in s for s in statuses)
    assert all("sla_name" not in p for p in priorities)
    assert 0 < len(still_open) < len(statuses)
