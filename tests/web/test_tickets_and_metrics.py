"""Live tickets through psad (never stored, coalesced, errors mapped) and /metrics."""

from __future__ import annotations

import asyncio
import json
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import (ROOT, queue_idle, require_tool, store_snapshot, wait_for_run,
                      write_config)
from psad.simulators import REQUEST_LOG_KEY
from psad.simulators.dataset import Dataset
from psad.simulators.serve import start_simulator
from psad.version import psad_version

TICKETS = "/api/integrations/demo-connectwise/tickets"
SIM_TICKETS = "/v4_6_release/apis/3.0/service/tickets"


async def settle(client: Any) -> None:
    runtime = client.runtime
    while not await queue_idle(runtime):
        await asyncio.sleep(0.05)


@pytest.mark.no_store
async def test_ticket_list_is_live_filtered_and_paged(daemon_client: Any, auth: dict) -> None:
    ds = daemon_client.sim.dataset
    page = await (await daemon_client.get(f"{TICKETS}?page_size=10", headers=auth)).json()
    assert len(page["tickets"]) == 10 and page["has_more"] is True
    ticket = page["tickets"][0]
    assert set(ticket) >= {"id", "summary", "company_id", "company_name", "board", "status",
                           "priority", "contact", "created_at", "updated_at", "url"}
    assert "recid=" in ticket["url"]
    board = ds.records("tickets")[0].board_id
    filtered = await (await daemon_client.get(f"{TICKETS}?board={board}&page_size=100",
                                              headers=auth)).json()
    expected = {str(t.id) for t in ds.records("tickets") if t.board_id == board}
    assert {t["id"] for t in filtered["tickets"]} == expected
    ds.update("tickets", ds.ids("tickets")[0], summary="Changed just now")
    one = await (await daemon_client.get(f"{TICKETS}/{ds.ids('tickets')[0]}",
                                         headers=auth)).json()
    assert one["summary"] == "Changed just now"  # live, not cached


async def test_ticket_calls_write_nothing_to_the_database(daemon_client: Any, auth: dict) -> None:
    await settle(daemon_client)
    store = daemon_client.runtime.store

    async def stored() -> tuple[list[dict], list]:
        return await store_snapshot(store, "demo-connectwise"), await store.list_runs()

    before = await stored()
    ids = daemon_client.sim.dataset.ids("tickets")[:5]
    for query in ("", "?page=2&page_size=5", "?q=printer", f"/{ids[0]}", f"/{ids[1]}", "/999999"):
        await daemon_client.get(TICKETS + query, headers=auth)
    assert await stored() == before


@pytest.mark.no_store
async def test_identical_concurrent_ticket_requests_share_one_upstream_call(
        daemon_client: Any, auth: dict) -> None:
    await settle(daemon_client)
    sim = daemon_client.sim
    sim.faults.latency = 0.2
    sim.app[REQUEST_LOG_KEY].clear()
    answers = await asyncio.gather(*(daemon_client.get(f"{TICKETS}?page_size=7", headers=auth)
                                     for _ in range(20)))
    assert {a.status for a in answers} == {200}
    bodies = [await a.json() for a in answers]
    assert all(b == bodies[0] for b in bodies)
    assert sim.app[REQUEST_LOG_KEY].count(SIM_TICKETS) == 1


async def daemon_for(tmp_path: Path, aiohttp_client: Any, sim: Any, max_concurrency: int) -> Any:
    from prometheus_client import CollectorRegistry

    from psad.config_file import load_config
    from psad.metrics import Metrics
    from psad.runtime import Runtime
    from psad.web.app import create_app

    config = load_config(write_config(tmp_path, [sim],
                                      integration_extra=f"max_concurrency = {max_concurrency}"))
    runtime = Runtime(config, Metrics(CollectorRegistry()))
    client = await aiohttp_client(create_app(runtime))
    client.runtime = runtime
    return client


@pytest.mark.usefixtures("database")
@pytest.mark.no_store
async def test_ticket_calls_may_use_every_request_slot_of_the_integration(
        tmp_path: Path, aiohttp_client: Any, cw_sim: Any, auth: dict) -> None:
    """32 slots configured means 32 calls to the PSA at once, not a hidden pool cap:
    all 32 reach the PSA before the first answer comes back."""
    client = await daemon_for(tmp_path, aiohttp_client, cw_sim, 32)
    await settle(client)
    log = cw_sim.app[REQUEST_LOG_KEY]
    log.clear()
    cw_sim.faults.latency = 2.0
    ids = cw_sim.dataset.ids("tickets")[:32]
    calls = [asyncio.ensure_future(client.get(f"{TICKETS}/{i}", headers=auth)) for i in ids]
    while log.count(prefix=SIM_TICKETS) < len(ids):
        assert not any(c.done() for c in calls), "a call came back before all were sent"
        await asyncio.sleep(0.01)
    answers = await asyncio.gather(*calls)
    assert {a.status for a in answers} == {200}


@pytest.mark.usefixtures("database")
@pytest.mark.no_store
async def test_a_ticket_call_goes_ahead_of_a_running_syncs_queued_requests(
        tmp_path: Path, aiohttp_client: Any, auth: dict) -> None:
    sim = await start_simulator("connectwise", Dataset.generate(
        6, companies=80, sites_per_company=1, assets=20, contacts=10, tickets=10))
    try:
        client = await daemon_for(tmp_path, aiohttp_client, sim, 2)
        sim.faults.latency = 0.05
        # a server without bundled reads: one site call per company, queued behind the cap
        sim.faults.status("/v4_6_release/apis/3.0/system/bundles", 404, count=None)
        await client.post("/api/integrations/demo-connectwise/sync?full=true", headers=auth)
        log = sim.app[REQUEST_LOG_KEY]
        while log.count(prefix="/v4_6_release/apis/3.0/company/companies/") < 4:
            await asyncio.sleep(0.01)  # the per-company site calls are queued by now
        asked = len(log.entries)
        answer = await client.get(f"{TICKETS}/{sim.dataset.ids('tickets')[0]}", headers=auth)
        sites_left = 80 - log.count(prefix="/v4_6_release/apis/3.0/company/companies/")
        sim.faults.latency = 0.0
        assert answer.status == 200
        # the PSA saw the ticket call among the next few requests, not behind the queue
        seen_before = [e.path for e in log.entries[asked:]].index(
            f"{SIM_TICKETS}/{sim.dataset.ids('tickets')[0]}")
        assert seen_before <= 4, f"{seen_before} queued sync calls went ahead of the ticket"
        assert sites_left > 20, "the sync was nearly done; the test proves nothing"
        await settle(client)
    finally:
        await sim.stop()


@pytest.mark.no_store
async def test_upstream_failures_map_to_clear_gateway_errors(daemon_client: Any,
                                                            auth: dict) -> None:
    sim = daemon_client.sim
    missing = await daemon_client.get(f"{TICKETS}/999999", headers=auth)
    assert missing.status == 404 and "no such ticket" in (await missing.json())["error"]
    sim.faults.status(SIM_TICKETS, 503, count=None)
    broken = await daemon_client.get(TICKETS, headers=auth)
    assert broken.status == 502 and "unavailable" in (await broken.json())["error"]
    sim.faults.clear()
    connector = await daemon_client.runtime.connector("demo-connectwise")
    connector.client.timeout = type(connector.client.timeout)(total=0.2)
    connector.client.policy = type(connector.client.policy)(max_retries=0)
    sim.faults.delay(SIM_TICKETS, 2.0, count=None)
    slow = await daemon_client.get(TICKETS, headers=auth)
    assert slow.status == 504 and "did not answer in time" in (await slow.json())["error"]


@pytest.mark.no_store
async def test_ticket_filters_are_validated_before_any_upstream_call(daemon_client: Any,
                                                                    auth: dict) -> None:
    sim = daemon_client.sim
    sim.app[REQUEST_LOG_KEY].clear()
    for query in ("?board=1%20or%201=1", "?company=../../system", "?page=0", "?page_size=1000",
                  "?host=evil.example", "?status=" + "9" * 80):
        resp = await daemon_client.get(TICKETS + query, headers=auth)
        assert resp.status == 400, query
    resp = await daemon_client.get(f"{TICKETS}/..%2F..%2Fsystem%2Finfo", headers=auth)
    assert resp.status in (400, 404)
    assert sim.app[REQUEST_LOG_KEY].count(SIM_TICKETS) == 0


async def test_metrics_move_as_runs_happen_and_pass_promtool(daemon_client: Any, auth: dict,
                                                            tmp_path: Path) -> None:
    await settle(daemon_client)
    before = await (await daemon_client.get("/metrics", headers=auth)).text()
    run = await (await daemon_client.post("/api/integrations/demo-connectwise/sync?full=true",
                                          headers=auth)).json()
    await wait_for_run(daemon_client, run["run_id"], auth)
    await settle(daemon_client)
    await daemon_client.get(f"{TICKETS}?page_size=3", headers=auth)
    text = await (await daemon_client.get("/metrics", headers=auth)).text()

    def value(body: str, name: str, **labels: str) -> float:
        return sum(sample.value for family in text_string_to_metric_families(body)
                   for sample in family.samples
                   if sample.name == name and labels.items() <= sample.labels.items())

    i = {"integration": "demo-connectwise"}
    runs = dict(i, trigger="force", outcome="succeeded")
    assert value(text, "psad_sync_runs_total", **runs) == value(before, "psad_sync_runs_total", **runs) + 1
    unchanged = dict(i, entity="assets", operation="unchanged")
    assert value(text, "psad_sync_records_total", **unchanged) > \
        value(before, "psad_sync_records_total", **unchanged)
    assert value(text, "psad_psa_requests_total", code="200", **i) > \
        value(before, "psad_psa_requests_total", code="200", **i)
    assert value(text, "psad_ticket_proxy_requests_total", outcome="ok", **i) >= 1
    assert value(text, "psad_sync_last_success_timestamp_seconds", entity="assets", **i) > 0
    assert value(text, "psad_sync_run_duration_seconds_count", **i) >= 2
    assert value(text, "psad_queue_depth") == 0
    assert "psad_queue_oldest_age_seconds" in text

    promtool = require_tool("promtool")
    result = await asyncio.to_thread(subprocess.run, [promtool, "check", "metrics"],
                                     input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_metrics_tell_the_build_and_carry_no_created_series(daemon_client: Any,
                                                                  auth: dict) -> None:
    await settle(daemon_client)
    text = await (await daemon_client.get("/metrics", headers=auth)).text()
    build = [s for f in text_string_to_metric_families(text) for s in f.samples
             if s.name == "psad_build_info"]
    assert [(s.labels["version"], s.labels["python"], s.value) for s in build] == [
        (psad_version(), platform.python_version(), 1.0)]
    assert "psad_sync_runs_total{" in text and "_created" not in text


GRAFANA = ROOT / "etc" / "grafana" / "psad-dashboard.json"
SUFFIXES = {"counter": ("", "_total"), "histogram": ("_bucket", "_sum", "_count")}
"""Sample names of a family by its type (a TYPE line may name a counter with its _total)."""


async def test_every_metric_the_grafana_dashboard_queries_exists(daemon_client: Any,
                                                                 auth: dict) -> None:
    dashboard = json.loads(GRAFANA.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queried = {name for e in exprs for name in re.findall(r"\bpsad_[a-z0-9_]+", e)}
    text = await (await daemon_client.get("/metrics", headers=auth)).text()
    families = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.M))
    exported = {family + suffix for family, kind in families.items()
                for suffix in SUFFIXES.get(kind, ("",))}  # gauges: the family's own name
    assert len(exprs) == len(dashboard["panels"]) >= 10
    assert queried and queried <= exported, sorted(queried - exported)
    assert {"psad_sync_progress_ratio", "psad_sync_progress_records",
            "psad_build_info"} <= queried
