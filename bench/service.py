"""Service benchmarks: store throughput, Force Sync latency, ticket proxy overhead,
health and dashboard answers under load during a sync."""

from __future__ import annotations

import asyncio
import base64
import multiprocessing
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from bench.syncs import ROOT, Simulator, Sizes, start_simulator, workdir
from psad.config_file import load_config
from psad.metrics import Metrics
from psad.model import Asset, Entity
from psad.runtime import Runtime
from psad.simulators.serve import SIMULATORS
from psad.store import FINAL_OUTCOMES, Store, utcnow
from psad.store.rows import columns, to_row
from psad.web.app import create_app

TOKEN = "bench-token-0123456789abcdef"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _assets(count: int) -> list[Asset]:
    return [Asset(psa_id=str(i), company_psa_id=str(i % 500), name=f"PC-{i:06d}",
                  status="Active", type="Workstation", purchase_date=date(2024, 1, 2),
                  warranty_expiration=date(2027, 1, 2), serial_number=f"SN{i:08d}",
                  os_type="Windows 11", notes=f"desk {i}", manufacturer="Dell",
                  custom_fields={"Backup": i % 2 == 0, "Rack": None})
            for i in range(count)]


async def store_throughput(rows: int = 100_000, page: int = 1000) -> dict[str, float]:
    """Rows/s through ``Store.apply_page`` vs plain sqlite3 executemany of the same rows.

    Both start from the same normalized records and write them into the same
    migrated table, one transaction per page. The raw side only turns each
    record into its row and inserts it; psad also checks what is stored,
    hashes each row for change detection and keeps the sweep's bookkeeping.
    The two take turns page by page, each timed on its own, so a slow patch of
    the machine lands on both sides alike.
    """
    records = _assets(rows)
    directory = workdir()
    store = await Store.open(directory / "psad.db")
    run_id = await store.create_run("bench", "manual", "bench", full=True, queued_at=utcnow())
    raw_db = directory / "raw.db"
    await (await Store.open(raw_db)).close()  # the same schema, indexes included
    stamp = utcnow().isoformat()
    cols = ("integration", "psa_id", "content_hash", "out_of_scope", "first_seen", "last_seen",
            "updated_at") + columns(Entity.ASSET)
    sql = f"INSERT INTO assets ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    conn = sqlite3.connect(raw_db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")

    def raw_page(batch: list[Asset]) -> float:
        begun = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, [("bench", r.psa_id, "", 0, stamp, stamp, stamp, *to_row(r))
                               for r in batch])
        conn.execute("COMMIT")
        return time.perf_counter() - begun

    psad_seconds = raw_seconds = 0.0
    try:
        for start in range(0, rows, page):
            batch = records[start:start + page]
            begun = time.perf_counter()
            await store.apply_page("bench", Entity.ASSET, batch, now=utcnow(), run_id=run_id)
            psad_seconds += time.perf_counter() - begun
            raw_seconds += await asyncio.to_thread(raw_page, batch)
    finally:
        conn.close()
        await store.close()
    return {"psad_rows_per_s": rows / psad_seconds, "raw_rows_per_s": rows / raw_seconds}


async def _start_daemon(config: Path, port: int) -> subprocess.Popen[bytes]:
    """``psad run`` with ``config`` on ``port``, in its own process as deployed; once ready."""
    config.write_text(config.read_text().replace('"127.0.0.1:0"', f'"127.0.0.1:{port}"'))
    daemon = subprocess.Popen([sys.executable, "-m", "psad.cli", "--log-level", "WARNING", "run",
                               "--config", str(config)], cwd=ROOT)
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    if resp.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    return daemon


def _config_text(directory: Path, sim: Simulator, integrations: int, workers: int,
                 max_concurrency: int = 4) -> Path:
    return _config_for(directory, {f"i{n:03d}": sim for n in range(integrations)}, workers,
                       max_concurrency)


def _config_for(directory: Path, integrations: dict[str, Simulator], workers: int,
                max_concurrency: int = 4, *, database: str = "psad.db",
                listen: str = "127.0.0.1:0") -> Path:
    """A daemon config with one integration per name, each against its simulator."""
    secrets = directory / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    (directory / "token").write_text(TOKEN)
    lines = [f'database = "{database}"', "[server]", f'listen = "{listen}"',
             'api_token = { file = "token" }', "[sync]", f"workers = {workers}",
             "jitter_seconds = 0"]
    for name, sim in integrations.items():
        spec = SIMULATORS[sim.kind]
        for key, value in spec.secrets.items():
            (secrets / key).write_text(value)
        lines += ["[[integrations]]", f'name = "{name}"', f'kind = "{sim.kind}"',
                  f'base_url = "{sim.base_url}"', 'schedule = "0 4 * * *"',
                  f"max_concurrency = {max_concurrency}"]
        lines += [f'{k} = "{v}"' for k, v in spec.settings.items()]
        lines += [f'{k} = {{ file = "secrets/{k}" }}' for k in spec.secrets]
    path = directory / "psad.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def _idle(runtime: Runtime) -> None:
    while runtime.queue.waiting or runtime.queue.running:
        await asyncio.sleep(0.005)


async def force_sync_latency(samples: int = 200) -> dict[str, Any]:
    """POST → run started, with a free worker; and a force ahead of 100 queued nightlies."""
    sim = await asyncio.to_thread(start_simulator, "connectwise",
                                  Sizes(companies=2, assets=10, contacts=5, tickets=5), 0.0)
    runtime = Runtime(load_config(_config_text(workdir(), sim, 101, 1)), Metrics(CollectorRegistry()))
    client = TestClient(TestServer(create_app(runtime)))
    await client.start_server()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        await _idle(runtime)  # the start-up syncs of new integrations
        latencies: list[float] = []
        for _ in range(samples):
            sent = datetime.now().astimezone()
            resp = await client.post("/api/integrations/i000/sync", headers=headers)
            run_id = (await resp.json())["run_id"]
            await _idle(runtime)
            run = await runtime.store.get_run(run_id)
            assert run is not None
            assert run.run.started_at is not None
            latencies.append((datetime.fromisoformat(run.run.started_at) - sent).total_seconds())

        # one slow run holds the only worker while 100 nightly runs queue behind it
        async with aiohttp.ClientSession() as session:
            await session.post(sim.root + "/_sim/faults", json={"kind": "latency",
                                                                "seconds": 0.05})
            blocker = await (await client.post("/api/integrations/i100/sync?full=true",
                                               headers=headers)).json()
            while not runtime.queue.running:
                await asyncio.sleep(0.001)
            for n in range(100):
                await runtime.queue.submit(f"i{n:03d}", "nightly", "bench")
            answer = await (await client.post("/api/integrations/i050/sync",
                                              headers=headers)).json()
            while runtime.queue.running.get("i100"):
                await asyncio.sleep(0.01)
            await session.delete(sim.root + "/_sim/faults")
        await _idle(runtime)
        runs = await runtime.store.list_runs(limit=300)
        after = sorted((r for r in runs if r.id > blocker["run_id"] or r.id == answer["run_id"]),
                       key=lambda r: r.started_at or "")
        return {"p50_ms": percentile(latencies, 0.5) * 1000,
                "p99_ms": percentile(latencies, 0.99) * 1000,
                "position_with_100_queued": answer["position"],
                "forced_ran_next": after[0].id == answer["run_id"]}
    finally:
        await client.close()
        sim.stop()


class _Client:
    """A client of a ``psad run`` process over HTTP, with the API token."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base
        self.headers = {"Authorization": f"Bearer {TOKEN}"}
        self.missing = 0

    async def _call(self, method: str, path: str) -> tuple[int, Any]:
        """One API call. A kept-alive connection the daemon closed meanwhile (its idle
        timeout) is retried once on a new connection, as HTTP client libraries do."""
        try:
            return await self._once(method, path)
        except aiohttp.ServerDisconnectedError:
            return await self._once(method, path)

    async def _once(self, method: str, path: str) -> tuple[int, Any]:
        async with self.session.request(method, self.base + path, headers=self.headers) as resp:
            return resp.status, await resp.json()

    async def force(self, name: str, full: bool = False) -> int:
        status, body = await self._call(
            "POST", f"/api/integrations/{name}/sync" + ("?full=true" if full else ""))
        assert status == 202, (status, body)
        return int(body["run_id"])

    async def outcome(self, run_id: int) -> str | None:
        """The run's outcome; None while the API answers 404 for it (seen under load
        for a run id the POST had just returned: counted in :attr:`missing`)."""
        status, body = await self._call("GET", f"/api/runs/{run_id}")
        if status == 404:
            self.missing += 1
            return None
        assert status == 200, (status, body)
        return str(body["outcome"])

    async def until(self, run_id: int, done: Callable[[str], bool]) -> None:
        """GET the run back to back until it is found and ``done(outcome)``."""
        while (outcome := await self.outcome(run_id)) is None or not done(outcome):
            pass

    async def idle(self) -> None:
        """Until no run is queued or running (the start-up syncs of new integrations)."""
        while True:
            for outcome in ("queued", "running"):
                if (await self._call("GET", f"/api/runs?outcome={outcome}&limit=1"))[1]["runs"]:
                    break
            else:
                return
            await asyncio.sleep(0.2)


async def _force_samples(client: _Client, name: str, count: int) -> tuple[list[float], list[float]]:
    """``count`` Force Syncs of ``name`` one after another: seconds of each POST, and from
    sending the POST to a GET of the run that shows it no longer queued. Each run is let
    finish before the next POST."""
    posts: list[float] = []
    visible: list[float] = []
    for _ in range(count):
        sent = time.perf_counter()
        run_id = await client.force(name)
        posts.append(time.perf_counter() - sent)
        await client.until(run_id, lambda outcome: outcome != "queued")
        visible.append(time.perf_counter() - sent)
        await client.until(run_id, lambda outcome: outcome in FINAL_OUTCOMES)
    return posts, visible


async def force_sync_over_http(load: Sizes, latency: float, samples: int = 200,
                               syncs: int = 8, port: int = 18767) -> dict[str, Any]:
    """Force Sync as a client sees it: a ``psad run`` process, a POST over HTTP, then
    ``GET /api/runs/{id}`` back to back until the run shows as running. Idle, then while
    ``syncs`` full syncs of ``load`` run in the same daemon (each restarted as it ends).

    The probed integration reads a tiny simulator of its own, so each probe run ends in
    moments; the daemon has a worker for it beside the ``syncs`` busy ones.
    """
    tiny = await asyncio.to_thread(start_simulator, "connectwise",
                                   Sizes(companies=2, assets=10, contacts=5, tickets=5), 0.0)
    big = await asyncio.to_thread(start_simulator, "connectwise", load, latency)
    loads = [f"load{n}" for n in range(syncs)]
    config = _config_for(workdir(), {"probe": tiny} | {name: big for name in loads}, syncs + 1)
    daemon = await _start_daemon(config, port)
    stop = asyncio.Event()
    busy: set[str] = set()
    try:
        async with aiohttp.ClientSession() as session:
            client = _Client(session, f"http://127.0.0.1:{port}")
            await client.idle()
            idle_post, idle_visible = await _force_samples(client, "probe", samples)

            async def keep_syncing(name: str) -> None:
                while not stop.is_set():
                    run_id = await client.force(name, full=True)
                    await client.until(run_id, lambda outcome: outcome != "queued")
                    busy.add(name)
                    while not stop.is_set() and await client.outcome(run_id) not in FINAL_OUTCOMES:
                        await asyncio.sleep(0.1)
                    busy.discard(name)

            workers = [asyncio.create_task(keep_syncing(name)) for name in loads]
            while len(busy) < syncs:
                if any(worker.done() for worker in workers):
                    await asyncio.gather(*workers)  # a worker's error, not a silent wait
                await asyncio.sleep(0.05)
            loaded_post, loaded_visible = await _force_samples(client, "probe", samples // 2)
            running_at_end = len(busy)
            stop.set()
            await asyncio.gather(*workers)
    finally:
        stop.set()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        tiny.stop()
        big.stop()

    def summary(values: list[float]) -> dict[str, float]:
        return {"p50_ms": percentile(values, 0.5) * 1000,
                "p99_ms": percentile(values, 0.99) * 1000, "max_ms": max(values) * 1000,
                "samples": len(values)}

    return {"idle_post": summary(idle_post), "idle_visible": summary(idle_visible),
            "loaded_post": summary(loaded_post), "loaded_visible": summary(loaded_visible),
            "running_at_end": running_at_end, "not_found": client.missing}


WARM_UP = 500


async def _timed_calls(url_for: Any, headers: dict[str, str], count: int,
                       concurrency: int) -> tuple[list[float], float]:
    """``count`` calls, ``concurrency`` at a time, after :data:`WARM_UP` calls (not timed)
    on the same connections: steady state is measured, not TCP set-up and the first
    requests after an idle spell."""
    latencies: list[float] = []
    semaphore = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        async def one(n: int, timed: bool = True) -> None:
            async with semaphore:
                begun = time.perf_counter()
                async with s.get(url_for(n), headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                if timed:
                    latencies.append(time.perf_counter() - begun)

        await asyncio.gather(*(one(n, timed=False) for n in range(WARM_UP)))
        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return latencies, time.perf_counter() - started


async def ticket_proxy_overhead(latency: float, count: int = 10_000,
                                concurrency: int = 32) -> dict[str, float]:
    """Latency and throughput of ticket gets through psad vs straight to the simulator,
    which answers after ``latency`` seconds."""
    sim = await asyncio.to_thread(start_simulator, "connectwise",
                                  Sizes(companies=20, assets=10, contacts=50, tickets=1000),
                                  latency)
    directory = workdir()
    config = _config_text(directory, sim, 1, 1, max_concurrency=concurrency)
    daemon = await _start_daemon(config, 18765)
    try:
        ids = list(range(1, 1001))
        spec = SIMULATORS["connectwise"]
        basic = base64.b64encode(
            f"{spec.settings['company_id']}+{spec.secrets['public_key']}:"
            f"{spec.secrets['private_key']}".encode()).decode()
        direct_headers = {"Authorization": f"Basic {basic}", "clientId": spec.settings["client_id"]}
        psad_headers = {"Authorization": f"Bearer {TOKEN}"}
        direct, direct_total = await _timed_calls(
            lambda n: f"{sim.base_url}service/tickets/{ids[n % 1000]}", direct_headers, count,
            concurrency)
        proxied, proxied_total = await _timed_calls(
            lambda n: f"http://127.0.0.1:18765/api/integrations/i000/tickets/{ids[n % 1000]}",
            psad_headers, count, concurrency)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        sim.stop()
    return {
        "direct_p50_ms": statistics.median(direct) * 1000,
        "direct_p99_ms": percentile(direct, 0.99) * 1000,
        "psad_p50_ms": statistics.median(proxied) * 1000,
        "psad_p99_ms": percentile(proxied, 0.99) * 1000,
        "direct_rps": count / direct_total, "psad_rps": count / proxied_total,
    }


async def pages_during_sync(sizes: Sizes, latency: float) -> dict[str, float]:
    """The run JSON, the integrations JSON and the dashboard, asked for in turn while a
    full sync runs in the same process: the worst and p99 time of one such round."""
    sim = await asyncio.to_thread(start_simulator, "connectwise", sizes, latency)
    runtime = Runtime(load_config(_config_text(workdir(), sim, 1, 1)),
                      Metrics(CollectorRegistry()))
    client = TestClient(TestServer(create_app(runtime)))
    await client.start_server()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    rounds: list[float] = []
    try:
        await _idle(runtime)  # the start-up sync of the new integration
        resp = await client.post("/api/integrations/i000/sync?full=true", headers=headers)
        run_id = (await resp.json())["run_id"]
        while True:
            started = time.perf_counter()
            run = await (await client.get(f"/api/runs/{run_id}", headers=headers)).json()
            for path in ("/api/integrations", "/"):
                await (await client.get(path, headers=headers)).read()
            rounds.append(time.perf_counter() - started)
            if run["outcome"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.05)
    finally:
        await client.close()
        sim.stop()
    return {"worst_s": max(rounds), "p99_s": percentile(rounds, 0.99), "rounds": len(rounds)}


class EventLike(Protocol):
    """``threading.Event`` or a multiprocessing one: what the probe needs of it."""

    def is_set(self) -> bool: ...


def _probe(url: str, stop: EventLike) -> list[float]:
    """Seconds per GET of ``url``, one after another until ``stop``. It runs in a process
    of its own, as a monitoring probe does: in the load's process it would also time
    the 200 clients' own work (they share its interpreter lock)."""
    async def probe() -> list[float]:
        latencies: list[float] = []
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                begun = time.perf_counter()
                async with session.get(url) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                latencies.append(time.perf_counter() - begun)
                await asyncio.sleep(0.02)
        return latencies

    return asyncio.run(probe())


async def health_under_load(sizes: Sizes, latency: float, clients: int = 200,
                            port: int = 18766) -> dict[str, float]:
    """``/healthz`` and ``/api/integrations`` latency while ``clients`` dashboard clients
    ask for ``/api/integrations`` back to back, during a full sync of ``sizes``."""
    sim = await asyncio.to_thread(start_simulator, "connectwise", sizes, latency)
    daemon = await _start_daemon(_config_text(workdir(), sim, 1, 1), port)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    listing: list[float] = []
    stop = threading.Event()
    context = multiprocessing.get_context("spawn")
    manager = context.Manager()
    stop_probe = manager.Event()
    probes = ProcessPoolExecutor(1, mp_context=context)
    try:
        limit = aiohttp.TCPConnector(limit=clients + 1)
        async with aiohttp.ClientSession(connector=limit) as session:
            async def dashboard_client() -> None:
                while not stop.is_set():
                    begun = time.perf_counter()
                    async with session.get(base + "/api/integrations", headers=headers) as resp:
                        await resp.read()
                        assert resp.status == 200, resp.status
                    listing.append(time.perf_counter() - begun)

            async with session.post(base + "/api/integrations/i000/sync?full=true",
                                    headers=headers) as resp:
                run_id = (await resp.json())["run_id"]
            load = [asyncio.create_task(dashboard_client()) for _ in range(clients)]
            prober = asyncio.get_running_loop().run_in_executor(
                probes, _probe, base + "/healthz", stop_probe)
            while True:
                async with session.get(f"{base}/api/runs/{run_id}", headers=headers) as resp:
                    outcome = (await resp.json())["outcome"]
                if outcome not in ("queued", "running"):
                    break
                await asyncio.sleep(0.5)
            stop.set()
            stop_probe.set()
            await asyncio.gather(*load)
            health = await prober
    finally:
        stop.set()
        stop_probe.set()
        probes.shutdown()
        manager.shutdown()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        sim.stop()
    return {"healthz_p99_ms": percentile(health, 0.99) * 1000,
            "integrations_p99_ms": percentile(listing, 0.99) * 1000,
            "healthz_samples": len(health), "integrations_samples": len(listing)}
