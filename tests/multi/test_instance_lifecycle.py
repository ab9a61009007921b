"""One instance on the shared PostgreSQL queue: its identity, SIGHUP reload, clean stop."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import aiohttp

from daemon_process import AUTH, DaemonProcess
from psad_cluster import cluster_config, runs, simulator, start_cluster, until_idle, \
    until_running


async def test_an_instance_names_itself_reloads_and_hands_its_interrupted_run_back_at_stop(
        tmp_path: Path, postgres_url: str) -> None:
    sim = await simulator(0.3)  # runs last a few seconds
    try:
        (daemon,) = await start_cluster(tmp_path, sim, postgres_url, ["keep", "drop"], 1,
                                        workers=1)
        assert daemon.proc is not None
        try:
            # both never synced: start-up catch-ups, one running and one queued
            running = await until_running(postgres_url)
            assert [r["integration"] for r in running] == ["keep"]
            async with aiohttp.ClientSession() as session:
                async with session.get(daemon.url + "/metrics", headers=AUTH) as resp:
                    metrics = await resp.text()
            assert re.search(rf'psad_instance_info\{{instance="[^"]+:{daemon.proc.pid}:\w+",'
                             r'store="postgresql"\} 1\.0', metrics), metrics
            port = int(daemon.url.rpartition(":")[2])
            cluster_config(daemon.config.parent, sim, postgres_url, ["keep"], port=port,
                           workers=1)
            daemon.proc.send_signal(signal.SIGHUP)
            for _ in range(400):
                if {r["integration"]: r["outcome"] for r in await runs(postgres_url)
                        }.get("drop") == "cancelled":
                    break
                await asyncio.sleep(0.05)
            assert await daemon.stop() == 0
        finally:
            await daemon.stop()
        found = await runs(postgres_url)
        assert [(r["integration"], r["outcome"]) for r in found] == [
            ("keep", "interrupted"), ("drop", "cancelled"), ("keep", "queued")]
        assert found[2]["requested_by"] == f"resume of run {found[0]['id']}"
        # the next instance to start (here the same one again) finishes it
        again = DaemonProcess(daemon.config, port)
        await again.start(timeout=60)
        try:
            found = await until_idle(postgres_url)
        finally:
            assert await again.stop() == 0
        assert [(r["integration"], r["outcome"]) for r in found] == [
            ("keep", "interrupted"), ("drop", "cancelled"), ("keep", "succeeded")]
    finally:
        await sim.stop()
