"""Load on a running daemon: a Force Sync storm, a ticket storm half failing upstream,
no leaked connections or descriptors, and pages that keep answering during a big sync."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from conftest import TOKEN, free_port, write_config
from psad.simulators.dataset import Dataset
from psad.simulators.serve import start_simulator
from daemon_process import DaemonProcess, wait_outcome

AUTH = {"Authorization": f"Bearer {TOKEN}"}
NAME = "demo-connectwise"


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def settle(daemon: DaemonProcess) -> None:
    for _ in range(600):
        body = await daemon.api("GET", "/api/integrations")
        if all(i["state"] == "idle" for i in body["integrations"]):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("daemon did not settle")


@pytest.mark.usefixtures("database")
async def test_force_and_ticket_storms_are_all_answered_without_leaks(tmp_path: Path) -> None:
    sim = await start_simulator("connectwise", Dataset.generate(
        31, companies=20, assets=400, contacts=100, tickets=200))
    port = free_port()
    config = write_config(tmp_path, [sim], port=port,
                          extra="", integration_extra="max_concurrency = 8")
    config.write_text(config.read_text().replace("[sync]", "[sync]\nmax_retries = 1"))
    daemon = DaemonProcess(config, port)
    await daemon.start()
    assert daemon.proc is not None
    try:
        await settle(daemon)
        fds_before = open_fds(daemon.proc.pid)
        sim.faults.latency = 0.01
        connector = aiohttp.TCPConnector(limit=200)
        async with aiohttp.ClientSession(connector=connector,
                                         timeout=aiohttp.ClientTimeout(total=120)) as session:
            async def call(method: str, path: str) -> int:
                async with session.request(method, daemon.url + path, headers=AUTH) as resp:
                    await resp.read()
                    return resp.status

            forces = await asyncio.gather(*(call("POST", f"/api/integrations/{NAME}/sync")
                                            for _ in range(1000)))
            assert Counter(forces) == {202: 1000}
            runs = (await daemon.api("GET", f"/api/runs?integration={NAME}&limit=10"))["runs"]
            live = [r for r in runs if r["outcome"] in ("queued", "running")]
            assert 1 <= len(live) <= 2  # one running and at most one follow-up
            assert sum(r["outcome"] == "queued" for r in live) <= 1

            sim.faults.status("/v4_6_release/apis/3.0/service/tickets/", 503, count=None)
            ids = sim.dataset.ids("tickets")
            paths = [f"/api/integrations/{NAME}/tickets?page={1 + i % 5}&page_size=10"
                     if i % 2 == 0 else f"/api/integrations/{NAME}/tickets/{ids[i % len(ids)]}"
                     for i in range(2000)]
            statuses = await asyncio.gather(*(call("GET", p) for p in paths))
        counts = Counter(statuses)
        assert set(counts) <= {200, 502}, counts
        assert counts[502] >= 1000 and sum(counts.values()) == 2000
        sim.faults.clear()
        await settle(daemon)
        await asyncio.sleep(0.5)
        fds_after = open_fds(daemon.proc.pid)
        assert fds_after <= fds_before + 10, (fds_before, fds_after)
    finally:
        await daemon.stop()
        await sim.stop()


@pytest.mark.usefixtures("database")
async def test_api_keeps_answering_during_a_large_sync(tmp_path: Path) -> None:
    """Every answer is right while the sync runs; how fast they come is bench's figure 9."""
    sim = await start_simulator("connectwise", Dataset.generate(
        41, companies=200, assets=20_000, contacts=5000, tickets=10))
    port = free_port()
    daemon = DaemonProcess(write_config(tmp_path, [sim], port=port), port)
    await daemon.start()
    try:
        runs = (await daemon.api("GET", "/api/runs"))["runs"]
        run_id = runs[0]["id"]
        await wait_outcome(daemon, run_id, ("running",))
        samples = 0
        async with aiohttp.ClientSession() as session:
            while True:
                async with session.get(f"{daemon.url}/api/runs/{run_id}", headers=AUTH) as resp:
                    run: dict[str, Any] = await resp.json()
                async with session.get(f"{daemon.url}/api/integrations", headers=AUTH) as resp:
                    assert resp.status == 200
                async with session.get(f"{daemon.url}/", headers=AUTH) as resp:
                    assert resp.status == 200 and NAME in await resp.text()  # the dashboard
                samples += 1
                if run["outcome"] != "running":
                    break
                await asyncio.sleep(0.05)
        assert run["outcome"] == "succeeded"
        assert samples >= 5, "the sync should last long enough to be observed"
    finally:
        await daemon.stop()
        await sim.stop()
