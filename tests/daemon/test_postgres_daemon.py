"""``psad run`` on a PostgreSQL database: the same daemon, its rows in PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from conftest import free_port, write_config
from psad.simulators.serve import RunningSimulator
from daemon_process import DaemonProcess, wait_outcome

FINAL = ("succeeded", "partial", "failed", "interrupted", "cancelled")


async def test_psad_run_on_postgresql_syncs_and_a_force_sync_lands_rows_there(
        tmp_path: Path, cw_sim: RunningSimulator, postgres_url: str) -> None:
    port = free_port()
    config = write_config(tmp_path, [cw_sim], port=port)
    text = config.read_text()
    assert 'database = "psad.db"' in text
    config.write_text(text.replace('database = "psad.db"', f'database = "{postgres_url}"'))
    daemon = DaemonProcess(config, port)
    await daemon.start()
    try:
        assert await daemon.api("GET", "/healthz") == {"status": "ok", "database": True}
        startup = (await daemon.api("GET", "/api/runs"))["runs"][0]
        assert startup["trigger"] == "startup"
        assert (await wait_outcome(daemon, startup["id"], FINAL))["outcome"] == "succeeded"
        ds = cw_sim.dataset
        ds.add("assets", company_id=ds.ids("companies")[0], name="NEW-PC", status="Active",
               type="Workstation")
        forced = await daemon.api("POST", "/api/integrations/demo-connectwise/sync")
        run = await wait_outcome(daemon, forced["run_id"], FINAL)
        assert run["outcome"] == "succeeded", run
        assert {e["entity"]: e["created"] for e in run["entities"]}["assets"] == 1
    finally:
        assert await daemon.stop() == 0
    conn = await asyncpg.connect(postgres_url)
    try:
        assets = await conn.fetchval("SELECT count(*) FROM assets WHERE deleted_at IS NULL")
        outcomes = await conn.fetch("SELECT trigger, outcome FROM runs ORDER BY id")
    finally:
        await conn.close()
    assert assets == cw_sim.dataset.count("assets")
    assert [tuple(r) for r in outcomes] == [("startup", "succeeded"), ("force", "succeeded")]
    assert not (tmp_path / "psad.db").exists()  # nothing went to a local SQLite file
