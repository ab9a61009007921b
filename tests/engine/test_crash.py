"""Crash safety: the daemon killed with SIGKILL at random moments during syncs.

A handful of trials run in the normal suite; ``PSAD_SLOW=1`` runs the full
campaign (``PSAD_CRASH_TRIALS``, default 50). After every kill the database
must be intact, no unfinished run may read ``succeeded``, no cursor may have
moved past data that is not stored, and after a restart and one more sync
the database must equal the PSA's data exactly.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import free_port, write_config
from psad.model import Entity
from psad.simulators.dataset import Dataset
from psad.simulators.serve import RunningSimulator, start_simulator
from daemon_process import DaemonProcess, wait_outcome
from test_sync_connectwise import expected

SLOW = bool(os.environ.get("PSAD_SLOW"))
TRIALS = int(os.environ.get("PSAD_CRASH_TRIALS", "50")) if SLOW else 4
NAME = "demo-connectwise"
CHECKED = ("companies", "sites", "assets", "contacts")
DEMO_ASSET_FIELDS, DEMO_CONTACT_FIELDS = ("Backup", "Rack"), ("VIP",)  # psad.demo's selection


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    simulator = await start_simulator("connectwise", Dataset.generate(
        23, companies=25, assets=900, contacts=300, tickets=10))
    simulator.faults.latency = 0.02
    yield simulator
    await simulator.stop()


def comparable(row: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    return {k: row[k] for k in keys}


def check_invariants(db: Path, ds: Dataset) -> dict[str, int]:
    """What must hold after any crash; returns counts of stored live rows."""
    from psad.store.rows import from_row

    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for run in conn.execute("SELECT * FROM runs WHERE outcome = 'succeeded'"):
            assert run["finished_at"] is not None
            entities = conn.execute("SELECT * FROM run_entities WHERE run_id = ?",
                                    (run["id"],)).fetchall()
            assert len(entities) == len(Entity) and all(e["complete"] for e in entities), \
                f"run {run['id']} reads succeeded but did not finish every entity"
        counts = {}
        for table in CHECKED:
            entity = Entity(table)
            state = conn.execute("SELECT cursor, last_success_run FROM entity_state WHERE "
                                 "integration = ? AND entity = ?", (NAME, table)).fetchone()
            rows = {r["psa_id"]: from_row(entity, dict(r)) for r in conn.execute(
                f"SELECT * FROM {table} WHERE integration = ? AND deleted_at IS NULL", (NAME,))}
            counts[table] = len(rows)
            if state is None or state["cursor"] is None:
                continue
            step = conn.execute("SELECT complete FROM run_entities WHERE run_id = ? AND "
                                "entity = ?", (state["last_success_run"], table)).fetchone()
            assert step is not None and step["complete"] == 1
            cursor = datetime.fromisoformat(state["cursor"])
            want = expected(ds, entity, DEMO_ASSET_FIELDS, DEMO_CONTACT_FIELDS)
            keys = list(next(iter(want.values())))
            for record in ds.records(table):
                if record.updated_at < cursor:  # the cursor promises these are stored
                    pid = str(record.id)
                    assert pid in rows, f"{table} {pid} changed before the cursor but is missing"
                    assert comparable(rows[pid], keys) == want[pid], f"{table} {pid} is stale"
        return counts
    finally:
        conn.close()


def assert_equal_to_psa(db: Path, ds: Dataset) -> None:
    from psad.store.rows import from_row

    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        for entity in Entity:
            want = expected(ds, entity, DEMO_ASSET_FIELDS, DEMO_CONTACT_FIELDS)
            keys = list(next(iter(want.values())))
            got = {r["psa_id"]: comparable(from_row(entity, dict(r)), keys) for r in conn.execute(
                f"SELECT * FROM {entity.value} WHERE integration = ? AND deleted_at IS NULL",
                (NAME,))}
            assert got == want, entity
    finally:
        conn.close()


def mutate(ds: Dataset, rng: random.Random) -> None:
    """Some upstream change between crashes: edits, an addition, a deletion."""
    ds.touch_random(0.02, rng, entities=("companies", "assets", "contacts"))
    company = rng.choice(ds.ids("companies"))
    ds.add("assets", company_id=company, name=f"NEW-{rng.randrange(10**6)}", status="Active",
           type="Workstation")
    ds.delete("contacts", rng.choice(ds.ids("contacts")))


async def test_sigkill_at_random_moments_never_corrupts_or_lies(
        tmp_path: Path, sim: RunningSimulator) -> None:
    port = free_port()
    config = write_config(tmp_path, [sim], port=port, integration_extra="page_size = 50")
    db = tmp_path / "psad.db"
    rng = random.Random(int(os.environ.get("PSAD_CRASH_SEED", "1")))
    killed_running = 0
    for trial in range(TRIALS):
        daemon = DaemonProcess(config, port)
        await daemon.start()
        await daemon.api("POST", f"/api/integrations/{NAME}/sync"
                         + ("?full=true" if rng.random() < 0.7 else ""))
        for _ in range(200):  # kill at a random moment of a run, not before it starts
            runs = (await daemon.api("GET", "/api/runs?limit=5"))["runs"]
            if any(r["outcome"] == "running" for r in runs):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(rng.uniform(0.0, 0.4))
        runs = (await daemon.api("GET", "/api/runs?limit=5"))["runs"]
        killed_running += any(r["outcome"] == "running" for r in runs)
        assert await daemon.stop(signal.SIGKILL) == -signal.SIGKILL
        await asyncio.to_thread(check_invariants, db, sim.dataset)
        mutate(sim.dataset, rng)
    assert killed_running >= min(2, TRIALS // 2), "the kills should land mid-sync"

    daemon = DaemonProcess(config, port)
    await daemon.start()
    try:
        answer = await daemon.api("POST", f"/api/integrations/{NAME}/sync?full=true")
        run = await wait_outcome(daemon, answer["run_id"], ("succeeded", "partial", "failed"),
                                 timeout=120)
        assert run["outcome"] == "succeeded", run
    finally:
        await daemon.stop()
    await asyncio.to_thread(check_invariants, db, sim.dataset)
    await asyncio.to_thread(assert_equal_to_psa, db, sim.dataset)
