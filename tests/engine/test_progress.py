"""Live progress: the figures themselves, and where a running sync shows them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry

from conftest import wait_for_run
from psad.metrics import Metrics
from psad.connectors.base import translate_page
from psad.model import SYNC_ORDER, Asset, Entity
from psad.progress import (EntityProgress, RunProgress, fetching, note_custom_fields,
                           progress_line, report_total)


def test_percent_and_time_left_follow_the_rate_so_far() -> None:
    part = EntityProgress("assets", started=100.0, fetched=250, total=1000)
    assert part.percent == 25.0
    assert part.seconds_left(now=110.0) == 30.0  # 250 in 10 s, 750 to go
    part.fetched = 1200  # the list grew while it was read
    assert part.percent == 100.0 and part.seconds_left(now=110.0) == 0.0


def test_without_a_total_there_is_no_percent_or_time_left() -> None:
    part = EntityProgress("boards", fetched=40)
    assert part.percent is None and part.seconds_left() is None
    part.done = True
    assert part.percent == 100.0 and part.seconds_left() == 0.0


def test_a_total_is_reported_only_to_the_entity_being_fetched() -> None:
    report_total(5)  # outside a sync: nothing to tell, no error
    part = EntityProgress("contacts")
    with fetching(part):
        report_total(77)
    report_total(3)
    assert part.total == 77


def test_custom_fields_a_page_notes_reach_the_progress_together_when_it_is_translated(
        ) -> None:
    part = EntityProgress("assets")
    seen_mid_page: list[dict[str, int]] = []

    def parse(item: Mapping[str, Any]) -> Asset:
        note_custom_fields(name for name, value in item["custom"].items() if value)
        seen_mid_page.append(dict(part.custom_fields))
        return Asset(psa_id=str(item["id"]), company_psa_id=None, name="PC")

    items = [{"id": 1, "custom": {"Rack": "A1", "Backup": None}},
             {"id": 2, "custom": {"Rack": "B2", "Backup": True}}]
    with fetching(part):
        translate_page(Entity.ASSET, items, parse)
        assert seen_mid_page == [{}, {}]  # one lock and one update for the whole page
        assert part.custom_fields == {"Rack": 2, "Backup": 1}
        note_custom_fields(["Rack"])  # noted outside a page: counted at once
        assert part.custom_fields == {"Rack": 3, "Backup": 1}


def test_the_progress_line_names_counts_totals_and_time_left() -> None:
    progress = RunProgress()
    progress.start("companies").done = True
    assets = progress.start("assets")
    assets.fetched, assets.written, assets.total = 500, 490, 2000
    line = progress_line(progress.as_dict())
    assert line.startswith(
        f"1/{len(SYNC_ORDER)} entities done, 500 fetched, 490 written, 0 rejected")
    assert "assets 500 of 2,000 (25%, about " in line and "companies" not in line.split("|")[1]


async def test_a_running_sync_shows_its_progress_in_the_api_and_metrics(
        daemon_client: Any, auth: dict[str, str]) -> None:
    daemon_client.sim.faults.latency = 0.05
    answer = await (await daemon_client.post("/api/integrations/demo-connectwise/sync?full=true",
                                             headers=auth)).json()
    run_id = answer["run_id"]
    seen: dict[str, Any] | None = None
    for _ in range(400):
        run = await (await daemon_client.get(f"/api/runs/{run_id}", headers=auth)).json()
        if run["outcome"] == "running" and run.get("progress", {}).get("fetched"):
            seen = run["progress"]
            break
        assert run["outcome"] in ("queued", "running"), run
        await asyncio.sleep(0.02)
    assert seen is not None, "no progress while the run was running"
    entity = next(iter(seen["entities"].values()))
    assert set(entity) == {"pages", "fetched", "written", "rejected", "total", "percent",
                           "seconds_left", "done"}
    summary = await (await daemon_client.get("/api/integrations/demo-connectwise",
                                             headers=auth)).json()
    metrics = await (await daemon_client.get("/metrics", headers=auth)).text()
    daemon_client.sim.faults.latency = 0.0
    final = await wait_for_run(daemon_client, run_id, auth, timeout=60)
    assert summary["running"] is None or summary["running"]["progress"]["entities"]
    assert 'psad_sync_progress_records{entity="' in metrics
    assert final["outcome"] == "succeeded" and "progress" not in final


def test_progress_gauges_read_the_running_runs_at_scrape_time() -> None:
    from prometheus_client import generate_latest

    metrics = Metrics(CollectorRegistry())
    progress = RunProgress()
    assets = progress.start("assets")
    assets.fetched, assets.written, assets.total = 30, 29, 120
    running = [("acme", progress)]
    metrics.watch_progress(lambda: running)
    text = generate_latest(metrics.registry).decode()
    assert 'psad_sync_progress_records{entity="assets",integration="acme",stage="fetched"} 30.0' \
        in text
    assert 'psad_sync_progress_total_records{entity="assets",integration="acme"} 120.0' in text
    assert 'psad_sync_progress_ratio{entity="assets",integration="acme"} 0.25' in text
    running.clear()
    assert "integration=\"acme\"" not in generate_latest(metrics.registry).decode()
