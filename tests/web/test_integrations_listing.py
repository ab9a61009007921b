"""A crowd of dashboards asking for the integrations at once costs the store one reading."""

from __future__ import annotations

import asyncio
from typing import Any


async def test_concurrent_integration_listings_share_one_store_reading(
        daemon_client: Any, auth: dict[str, str]) -> None:
    runtime = daemon_client.runtime
    before = runtime._summaries.upstream_calls

    async def listing() -> dict[str, Any]:
        resp = await daemon_client.get("/api/integrations", headers=auth)
        assert resp.status == 200
        return dict(await resp.json())

    answers = await asyncio.gather(*(listing() for _ in range(50)))
    assert runtime._summaries.upstream_calls - before < 50
    names = {tuple(i["name"] for i in a["integrations"]) for a in answers}
    assert names == {("demo-connectwise",)}
    records = (await listing())["integrations"][0]["records"]
    assert set(records) >= {"companies", "assets"}
