"""The daemon's JSON API on the real app: Force Sync, the sync log, health, auth, input checks."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import queue_idle, wait_for_run


async def test_force_sync_returns_202_at_once_and_the_run_completes(daemon_client: Any,
                                                                    auth: dict) -> None:
    client = daemon_client
    await wait_idle(client)
    connector = await client.runtime.connector("demo-connectwise")
    real_fetch = connector.fetch
    released = asyncio.Event()

    async def held(entity: Any, *, since: Any = None) -> Any:
        await released.wait()  # the sync cannot finish before the answer is read
        async for page in real_fetch(entity, since=since):
            yield page

    connector.fetch = held
    resp = await client.post("/api/integrations/demo-connectwise/sync", headers=auth)
    assert resp.status == 202
    body = await resp.json()
    assert resp.headers["Location"] == f"/api/runs/{body['run_id']}"
    assert body["position"] in (0, 1) and body["status"] in ("queued", "running")
    released.set()
    run = await wait_for_run(client, body["run_id"], auth)
    assert run["outcome"] == "succeeded" and run["trigger"] == "force"
    assert {e["entity"] for e in run["entities"]} >= {"companies", "assets", "contacts"}
    listed = await (await client.get("/api/runs?integration=demo-connectwise&limit=1",
                                     headers=auth)).json()
    assert listed["runs"][0]["id"] == body["run_id"]


async def test_hundred_concurrent_force_requests_queue_one_run(daemon_client: Any,
                                                              auth: dict) -> None:
    client = daemon_client
    await wait_idle(client)
    client.sim.faults.latency = 0.02
    first = await (await client.post("/api/integrations/demo-connectwise/sync",
                                     headers=auth)).json()
    await wait_running(client, first["run_id"], auth)
    answers = await asyncio.gather(*(client.post("/api/integrations/demo-connectwise/sync",
                                                 headers=auth) for _ in range(100)))
    bodies = [await a.json() for a in answers]
    assert {a.status for a in answers} == {202}
    follow_ups = {b["run_id"] for b in bodies}
    assert len(follow_ups) == 1 and first["run_id"] not in follow_ups  # exactly one follow-up
    client.sim.faults.latency = 0
    run = await wait_for_run(client, follow_ups.pop(), auth, timeout=30)
    assert run["outcome"] == "succeeded"


async def test_integrations_list_shows_state_counts_and_schedule(daemon_client: Any,
                                                                 auth: dict) -> None:
    client = daemon_client
    await wait_idle(client)
    body = await (await client.get("/api/integrations", headers=auth)).json()
    (item,) = body["integrations"]
    assert item["name"] == "demo-connectwise" and item["kind"] == "connectwise"
    assert item["state"] == "idle" and item["next_run"]
    assert item["last_run"]["outcome"] == "succeeded"
    assert item["records"]["assets"]["live"] == client.sim.dataset.count("assets")
    assert item["entities"]["assets"]["last_success_at"]


async def test_unknown_integration_is_404_and_disabled_is_409(daemon_client: Any,
                                                              auth: dict) -> None:
    resp = await daemon_client.post("/api/integrations/nope/sync", headers=auth)
    assert resp.status == 404 and "nope" in (await resp.json())["error"]


async def test_api_requires_the_bearer_token_but_health_does_not(daemon_client: Any) -> None:
    client = daemon_client
    for method, path in [("GET", "/api/integrations"), ("POST", "/api/integrations/x/sync"),
                         ("GET", "/api/runs"), ("GET", "/api/runs/1"), ("GET", "/metrics")]:
        resp = await client.request(method, path)
        assert resp.status == 401, path
        assert "error" in await resp.json()
        bad = await client.request(method, path, headers={"Authorization": "Bearer wrong"})
        assert bad.status == 401, path
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["ready"] is True


async def test_bad_query_input_is_a_400_that_says_what_was_wrong(daemon_client: Any,
                                                                auth: dict) -> None:
    cases = {
        "/api/runs?limit=0": "limit",
        "/api/runs?limit=abc": "limit",
        "/api/runs?outcome=great": "outcome",
        "/api/runs?colour=red": "unknown query parameter 'colour'",
        "/api/runs?limit=1&limit=2": "more than once",
        "/api/runs/abc": "run id",
        "/api/integrations?x=1": "unknown query parameter",
    }
    for path, fragment in cases.items():
        resp = await daemon_client.get(path, headers=auth)
        assert resp.status == 400, path
        assert fragment in (await resp.json())["error"], path
    resp = await daemon_client.post("/api/integrations/demo-connectwise/sync?full=maybe",
                                    headers=auth)
    assert resp.status == 400
    assert (await daemon_client.get("/api/runs/999999", headers=auth)).status == 404
    assert (await daemon_client.get("/api/nothing", headers=auth)).status == 404
    wrong = await daemon_client.delete("/api/runs", headers=auth)
    assert wrong.status == 405 and "error" in await wrong.json()


async def test_runs_are_paged_newest_first(daemon_client: Any, auth: dict) -> None:
    client = daemon_client
    await wait_idle(client)
    for _ in range(3):
        body = await (await client.post("/api/integrations/demo-connectwise/sync",
                                        headers=auth)).json()
        await wait_for_run(client, body["run_id"], auth)
    page1 = await (await client.get("/api/runs?limit=2", headers=auth)).json()
    ids = [r["id"] for r in page1["runs"]]
    assert ids == sorted(ids, reverse=True) and page1["next_before"] == ids[-1]
    page2 = await (await client.get(f"/api/runs?limit=2&before={page1['next_before']}",
                                    headers=auth)).json()
    assert all(r["id"] < ids[-1] for r in page2["runs"])
    failed = await (await client.get("/api/runs?outcome=failed", headers=auth)).json()
    assert failed["runs"] == []


async def wait_idle(client: Any) -> None:
    """Let the start-up catch-up sync (first run of a new integration) finish."""
    runtime = client.runtime
    for _ in range(400):
        if await queue_idle(runtime):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("queue did not drain")


async def wait_running(client: Any, run_id: int, auth: dict) -> None:
    for _ in range(400):
        run = await (await client.get(f"/api/runs/{run_id}", headers=auth)).json()
        if run["outcome"] == "running":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("run did not start")


async def test_a_failed_fetch_is_told_apart_from_record_errors(daemon_client: Any,
                                                               auth: dict) -> None:
    boards = "/v4_6_release/apis/3.0/service/boards"
    daemon_client.sim.faults.status(boards, 404, count=None)
    answer = await (await daemon_client.post("/api/integrations/demo-connectwise/sync",
                                             headers=auth)).json()
    run = await wait_for_run(daemon_client, answer["run_id"], auth)
    daemon_client.sim.faults.clear()
    assert run["outcome"] == "failed"
    kinds = {(e["entity"], e["kind"]) for e in run["errors"]}
    assert ("boards", "fetch") in kinds and all(k != "record" for _, k in kinds)
    page = await (await daemon_client.get(f"/runs/{answer['run_id']}", headers=auth)).text()
    failures = page[page.index("Fetch failures"):page.index("Record errors")]
    assert "<strong>Boards</strong>" in failures and "HTTP 404" in failures
    assert "No record errors." in page
