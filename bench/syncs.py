"""Sync benchmarks: full sync vs the raw-fetch floor, incremental vs full, peak memory.

psad runs as ``psad sync-once`` in its own process (so its peak RSS is its
own) against a simulator in another process. A run's wall time comes from
the sync log (start to finish, without process start-up). The floor replays
exactly the requests psad made, with psad's concurrency, reading each body
and doing nothing with it.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from psad.simulators.serve import SIMULATORS

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 4
NAME = "bench"


@dataclass
class Sizes:
    companies: int
    assets: int
    contacts: int
    tickets: int = 1000


@dataclass
class Simulator:
    kind: str
    proc: subprocess.Popen[str]
    root: str

    @property
    def base_url(self) -> str:
        return self.root + SIMULATORS[self.kind].api_path

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def start_simulator(kind: str, sizes: Sizes, latency: float, seed: int = 1, *,
                    vendor_limits: bool = False) -> Simulator:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.simserver", kind, "--seed", str(seed),
         "--companies", str(sizes.companies), "--assets", str(sizes.assets),
         "--contacts", str(sizes.contacts), "--tickets", str(sizes.tickets),
         "--latency", str(latency)] + (["--vendor-limits"] if vendor_limits else []),
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    root = proc.stdout.readline().strip()
    if not root.startswith("http"):
        proc.kill()
        raise RuntimeError(f"{kind} simulator did not start")
    return Simulator(kind, proc, root)


def write_config(directory: Path, sim: Simulator) -> Path:
    spec = SIMULATORS[sim.kind]
    secrets = directory / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    lines = ['database = "psad.db"', "[sync]", "max_retries = 5", "[[integrations]]",
             f'name = "{NAME}"', f'kind = "{sim.kind}"', f'base_url = "{sim.base_url}"',
             f"max_concurrency = {CONCURRENCY}"]
    lines += [f'{key} = "{value}"' for key, value in spec.settings.items()]
    if sim.kind == "syncro":
        lines.append("requests_per_minute = 1000000")  # the simulator's limit is lifted too
    for key, value in spec.secrets.items():
        (secrets / key).write_text(value)
        lines.append(f'{key} = {{ file = "secrets/{key}" }}')
    lines += ["[integrations.custom_fields]", 'assets = ["Backup", "Rack"]',
              'contacts = ["VIP"]']
    path = directory / "psad.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class SyncResult:
    seconds: float
    peak_rss_mib: float
    requests: dict[str, int]
    outcome: str
    cpu_seconds: float
    """User and system CPU of the whole ``psad sync-once`` process, start-up included."""


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system) a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_up_cpu() -> float:
    """CPU seconds a ``psad`` process spends importing what ``sync-once`` uses."""
    proc = subprocess.Popen([sys.executable, "-c", "import psad.cli, psad.sync_once"], cwd=ROOT)
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_utime + usage.ru_stime


def sync_once(config: Path, *, full: bool) -> SyncResult:
    """One ``psad sync-once`` process; its wall time from the log, its peak RSS from wait4."""
    args = [sys.executable, "-m", "psad.cli", "--log-level", "WARNING", "sync-once",
            "--config", str(config), NAME] + (["--full"] if full else [])
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    db = config.parent / "psad.db"
    with sqlite3.connect(db) as conn:
        run_id, started, finished, outcome = conn.execute(
            "SELECT id, started_at, finished_at, outcome FROM runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
        requests = dict(conn.execute(
            "SELECT entity, requests FROM run_entities WHERE run_id = ?", (run_id,)).fetchall())
    seconds = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    return SyncResult(seconds, usage.ru_maxrss / 1024, requests, outcome,
                      usage.ru_utime + usage.ru_stime)


async def _get_json(session: aiohttp.ClientSession, url: str, method: str = "GET",
                    body: Any = None) -> Any:
    async with session.request(method, url, json=body) as resp:
        return await resp.json() if resp.content_type == "application/json" else None


async def logged_requests(sim: Simulator) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        return list(await _get_json(session, sim.root + "/_sim/requests"))


async def clear_requests(sim: Simulator) -> None:
    async with aiohttp.ClientSession() as session:
        await session.delete(sim.root + "/_sim/requests")


async def touch(sim: Simulator, share: float) -> None:
    async with aiohttp.ClientSession() as session:
        await _get_json(session, sim.root + "/_sim/touch", "POST",
                        {"share": share, "seed": 5,
                         "entities": ["companies", "sites", "assets", "contacts"]})


async def floor(sim: Simulator, requests: list[dict[str, Any]]) -> float:
    """Seconds to replay ``requests`` with psad's concurrency, discarding the bodies."""
    skip = {"host", "content-length", "transfer-encoding", "connection"}
    semaphore = asyncio.Semaphore(CONCURRENCY)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(entry: dict[str, Any]) -> None:
            headers = {k: v for k, v in entry["headers"].items() if k.lower() not in skip}
            async with semaphore:
                async with session.request(entry["method"], sim.root + entry["path"],
                                           params=entry["query"], headers=headers,
                                           data=entry.get("body")) as resp:
                    await resp.read()

        started = time.perf_counter()
        await asyncio.gather(*(one(e) for e in requests))
        return time.perf_counter() - started


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="psad-bench-"))


async def full_vs_floor(kind: str, sizes: Sizes, latency: float,
                        incremental_share: float | None = None) -> dict[str, Any]:
    """A full sync, the floor for the same requests, and optionally an incremental run."""
    sim = await asyncio.to_thread(start_simulator, kind, sizes, latency)
    try:
        config = write_config(workdir(), sim)
        await clear_requests(sim)
        before = process_cpu(sim.proc.pid)
        full = await asyncio.to_thread(sync_once, config, full=True)
        sim_cpu = process_cpu(sim.proc.pid) - before
        requests = await logged_requests(sim)
        before = process_cpu(sim.proc.pid)
        floor_seconds = await floor(sim, requests)
        out: dict[str, Any] = {"kind": kind, "full": full, "floor": floor_seconds,
                               "request_count": len(requests), "sim_cpu": sim_cpu,
                               "floor_sim_cpu": process_cpu(sim.proc.pid) - before}
        if incremental_share is not None:
            await touch(sim, incremental_share)
            await clear_requests(sim)
            out["incremental"] = await asyncio.to_thread(sync_once, config, full=False)
        return out
    finally:
        sim.stop()


async def peak_memory(kind: str, sizes: Sizes, latency: float) -> SyncResult:
    sim = await asyncio.to_thread(start_simulator, kind, sizes, latency)
    try:
        return await asyncio.to_thread(sync_once, write_config(workdir(), sim), full=True)
    finally:
        sim.stop()
