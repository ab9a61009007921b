"""The entity data API (GET /api/integrations/{name}/{entity}) on the real daemon app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from conftest import queue_idle, wait_for_run
from psad.model import Entity
from psad.simulators.dataset import Dataset
from psad.simulators.serve import RunningSimulator, start_simulator
from psad.web.data import slug

NAME = "demo-connectwise"
BASE = f"/api/integrations/{NAME}"


@pytest.fixture
async def cw_sim() -> AsyncIterator[RunningSimulator]:
    """Big enough that 1 % of every entity is at least one record."""
    sim = await start_simulator("connectwise", Dataset.generate(
        11, companies=100, assets=400, contacts=200, tickets=5))
    yield sim
    await sim.stop()


async def synced(client: Any, auth: dict[str, str]) -> None:
    """Wait out the start-up sync, then run one Force Sync to the end."""
    for _ in range(400):
        if await queue_idle(client.runtime):
            break
        await asyncio.sleep(0.05)
    body = await (await client.post(f"{BASE}/sync", headers=auth)).json()
    run = await wait_for_run(client, body["run_id"], auth, timeout=60)
    assert run["outcome"] == "succeeded", run


async def get(client: Any, auth: dict[str, str], path: str, status: int = 200) -> Any:
    resp = await client.get(path, headers=auth)
    body = await resp.json()
    assert resp.status == status, body
    return body


async def every_item(client: Any, auth: dict[str, str], path: str) -> list[dict[str, Any]]:
    """All pages of a listing, following ``next``."""
    items: list[dict[str, Any]] = []
    joiner = "&" if "?" in path else "?"
    body = await get(client, auth, path)
    while True:
        items += body["items"]
        if body["next"] is None:
            return items
        body = await get(client, auth, f"{path}{joiner}next={body['next']}")


async def test_a_change_feed_returns_exactly_the_records_changed_upstream(
        daemon_client: Any, auth: dict[str, str]) -> None:
    client = daemon_client
    await synced(client, auth)
    between = datetime.now(UTC).isoformat()
    async with aiohttp.ClientSession() as session:
        resp = await session.post(client.sim.root_url + "/_sim/touch",
                                  json={"share": 0.01, "seed": 3,
                                        "entities": ["sites", "assets"]})
        touched = await resp.json()
    assert all(touched.values())
    await synced(client, auth)
    since = between.replace("+", "%2B")
    for entity, ids in touched.items():
        changed = await every_item(client, auth, f"{BASE}/{entity}?updated_since={since}")
        assert sorted(item["psa_id"] for item in changed) == sorted(map(str, ids)), entity
    for entity in ("companies", "contacts", "boards"):
        assert (await get(client, auth, f"{BASE}/{entity}?updated_since={since}"))["items"] == []


async def test_every_entity_is_listed_whole_through_its_pages(
        daemon_client: Any, auth: dict[str, str]) -> None:
    client = daemon_client
    await synced(client, auth)
    counts = await client.runtime.store.count_records(NAME)
    for entity in Entity:
        items = await every_item(client, auth, f"{BASE}/{slug(entity)}?limit=7")
        ids = [item["psa_id"] for item in items]
        assert len(ids) == len(set(ids)) == counts[entity.value].live + \
            counts[entity.value].out_of_scope, entity
        assert ids == sorted(ids)
    first = await get(client, auth, f"{BASE}/assets?limit=5")
    assert len(first["items"]) == 5 and first["next"]
    asset = first["items"][0]
    assert {"psa_id", "name", "company_psa_id", "serial_number", "custom_fields",
            "updated_at", "deleted_at", "out_of_scope"} <= set(asset)


async def test_listings_filter_by_company_text_and_scope(
        daemon_client: Any, auth: dict[str, str]) -> None:
    client = daemon_client
    await synced(client, auth)
    ds = client.sim.dataset
    company = ds.records("companies")[0]
    own = await every_item(client, auth, f"{BASE}/assets?company={company.id}")
    assert sorted(a["psa_id"] for a in own) == sorted(
        str(a.id) for a in ds.records("assets") if a.company_id == company.id)
    asset = next(a for a in ds.records("assets") if a.serial_number)
    found = await get(client, auth, f"{BASE}/assets?q={asset.serial_number.lower()}")
    assert str(asset.id) in [a["psa_id"] for a in found["items"]]
    outside = await every_item(client, auth, f"{BASE}/companies?out_of_scope=true")
    inside = await every_item(client, auth, f"{BASE}/companies?out_of_scope=false")
    assert all(c["out_of_scope"] for c in outside) and not any(c["out_of_scope"] for c in inside)
    counts = await client.runtime.store.count_records(NAME)
    assert (len(outside), len(inside)) == (counts["companies"].out_of_scope,
                                           counts["companies"].live)


async def test_bad_listing_queries_are_a_400_that_names_the_parameter(
        daemon_client: Any, auth: dict[str, str]) -> None:
    client = daemon_client
    for query, word in [("limit=0", "limit"), ("limit=501", "limit"),
                        ("updated_since=yesterday", "updated_since"),
                        ("updated_since=2026-11-25T10:00:00", "offset"),
                        ("next=xyz", "next"), ("company=1", "company"),
                        ("include_deleted=yes", "include_deleted")]:
        body = await get(client, auth, f"{BASE}/boards?{query}", status=400)
        assert word in body["error"], query
    await get(client, auth, "/api/integrations/nosuch/assets", status=404)
    resp = await client.get(f"{BASE}/assets")
    assert resp.status == 401


async def test_sites_assets_and_contacts_pages_search_and_page_like_the_api(
        daemon_client: Any, auth: dict[str, str]) -> None:
    client = daemon_client
    await synced(client, auth)
    ds = client.sim.dataset
    asset = next(a for a in ds.records("assets") if a.serial_number)
    company = next(c for c in ds.records("companies") if c.id == asset.company_id)
    resp = await client.get(f"/integrations/{NAME}/assets?q={asset.serial_number}",
                            headers=auth)
    page = await resp.text()
    assert resp.status == 200 and asset.name in page and company.name in page
    assert f'/integrations/{NAME}/companies/{company.id}"' in page
    first = await (await client.get(f"/integrations/{NAME}/contacts", headers=auth)).text()
    assert 'rel="next"' in first and "First page" in first
    cursor = first.split('rel="next"')[0].rsplit("next=", 1)[1].split('"')[0]
    second = await (await client.get(f"/integrations/{NAME}/contacts?next={cursor}",
                                     headers=auth)).text()
    api = await get(client, auth, f"{BASE}/contacts?limit=50&next={cursor}")
    assert api["items"] and all((c["email"] or "") in second for c in api["items"])
    sites = await (await client.get(f"/integrations/{NAME}/sites?q=zzzz-none",
                                    headers=auth)).text()
    assert "No site matches" in sites
    bad = await client.get(f"/integrations/{NAME}/sites?next=zz", headers=auth)
    assert bad.status == 400
