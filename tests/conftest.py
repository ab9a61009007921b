from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import aiohttp
import pytest
from aiohttp import web

from psad.config import PostgresDatabase
from psad.store import Store
from psad.store.contract import StoreContract
from psad.store.factory import open_store

if TYPE_CHECKING:
    from sim_harness import HarnessMaker, Serve, ServerFactory

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def missing_tool(message: str) -> NoReturn:
    """Skip visibly locally, fail in CI (PSAD_REQUIRE_TOOLS=1)."""
    if os.environ.get("PSAD_REQUIRE_TOOLS"):
        pytest.fail(message)
    pytest.skip(message)


def require_tool(name: str) -> str:
    """The tool's path; skip visibly locally, fail in CI (PSAD_REQUIRE_TOOLS=1)."""
    path = shutil.which(name)
    if path is None:
        missing_tool(f"{name} is not installed (.ci/run installs it)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PostgresServer:
    """A throwaway PostgreSQL cluster on a loopback port (trust authentication)."""

    bindir: Path
    port: int
    data: Path
    owner: tuple[str, ...]
    """The command prefix that runs its tools as the ``postgres`` user (empty if we are)."""

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def createdb(self, template: str = "template1") -> str:
        """A new database's URL (every test gets its own), a copy of ``template`` (copied
        as files: twice as fast as through the WAL for a small one, with fsync off)."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        subprocess.run([self.bindir / "createdb", "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", "-T", template, "-S", "file_copy", name], check=True,
                       capture_output=True)
        return self.url(name)

    def dropdb(self, url: str) -> None:
        """Drop a database :meth:`createdb` made, closing whatever is still connected."""
        subprocess.run([self.bindir / "dropdb", "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", "--force", url.rpartition("/")[2]], check=True,
                       capture_output=True)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off -c synchronous_commit=off "
                   "-c max_connections=300")
        subprocess.run([*self.owner, self.bindir / "pg_ctl", "-D", self.data, "-o", options,
                        "-l", self.data.parent / "server.log", "-w", "start"], check=True,
                       capture_output=True)

    def stop(self, mode: str = "immediate") -> None:
        subprocess.run([*self.owner, self.bindir / "pg_ctl", "-D", self.data, "-m", mode,
                        "stop"], capture_output=True)


@contextmanager
def postgres_cluster() -> Iterator[PostgresServer]:
    """``initdb`` into a temporary directory and ``pg_ctl start`` on a free loopback port,
    as the ``postgres`` user when the tests run as root (PostgreSQL refuses root)."""
    versions = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    if not versions:
        missing_tool("PostgreSQL is not installed (.ci/run installs it)")
    bindir = max(versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    root = Path(tempfile.mkdtemp(prefix="psad-pg-"))
    owner = ("runuser", "-u", "postgres", "--") if os.geteuid() == 0 else ()
    if owner:
        shutil.chown(root, "postgres")
    server = PostgresServer(bindir, free_port(), root / "data", owner)
    try:
        subprocess.run([*owner, bindir / "initdb", "-D", server.data, "-A", "trust", "-U",
                        "postgres", "--no-sync"], check=True, capture_output=True)
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One cluster for the session; tests that stop their server use :func:`postgres_cluster`."""
    with postgres_cluster() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL server (dropped afterwards)."""
    url = postgres_server.createdb()
    yield url
    postgres_server.dropdb(url)


BACKENDS = ("sqlite", "postgresql")
"""The stores every test that touches one runs on (its id shows which: ``test_x[sqlite]``)."""
SQLITE_DATABASE = "psad.db"
"""The ``database`` line of a SQLite test's config: a file in the test's directory."""
_configured: list[str] = []
"""The ``database`` value :func:`write_config` writes while a test holds the ``database``
fixture (the tests that start daemons from a config file run on each backend through it)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): a test about SQLite itself (its file, its "
        "connections): it runs on SQLite alone")
    config.addinivalue_line(
        "markers", "no_store: a test whose subject never reads or writes the store (a "
        "simulator and its connector, live tickets, page layout): it runs once (on SQLite)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test holding a store runs once per backend, unless it is marked ``sqlite_only``
    or ``no_store`` (another backend would prove nothing new)."""
    if "store_backend" in metafunc.fixturenames:
        once = any(metafunc.definition.get_closest_marker(m) for m in ("sqlite_only", "no_store"))
        metafunc.parametrize("store_backend", ["sqlite"] if once else BACKENDS, indirect=True)


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    """The store backend a test runs on (see :func:`pytest_generate_tests`); the PostgreSQL
    variant skips (fails in CI) without a local PostgreSQL, like every tool the suite needs."""
    return str(request.param)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """A database already migrated to the current schema, which each test's database
    copies (``CREATE DATABASE … TEMPLATE``: faster than migrating every one)."""
    from psad.store.postgres import PostgresStore

    url = postgres_server.createdb()

    async def migrate() -> None:
        await (await PostgresStore.open(url, pool_size=1)).close()

    asyncio.run(migrate())
    return url.rpartition("/")[2]


@pytest.fixture
def database(store_backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The config's ``database`` value on this test's backend: a SQLite file in the test's
    directory, or a fresh database on the session's PostgreSQL cluster (dropped afterwards).
    :func:`write_config` writes it while the test runs."""
    if store_backend == "sqlite":
        value = SQLITE_DATABASE
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        value = server.createdb(template=request.getfixturevalue("postgres_template"))
    _configured.append(value)
    try:
        yield value
    finally:
        _configured.remove(value)
        if store_backend != "sqlite":
            server.dropdb(value)


def configured_database(database: str, directory: Path) -> Path | PostgresDatabase:
    """``database`` (a config's ``database`` value) as the config loader reads it."""
    if database.startswith("postgresql://"):
        return PostgresDatabase(database)
    return directory / database


async def open_test_store(database: str, directory: Path) -> StoreContract:
    """A store on ``database``, opened as the daemon opens its configured one."""
    return await open_store(configured_database(database, directory))


@pytest.fixture
async def store(database: str, tmp_path: Path) -> AsyncIterator[StoreContract]:
    """An empty store on the test's backend."""
    opened = await open_test_store(database, tmp_path)
    yield opened
    await opened.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """An empty SQLite store, for the tests about SQLite itself (its file, its connections)."""
    opened = await Store.open(tmp_path / SQLITE_DATABASE)
    yield opened
    await opened.close()


TOKEN = "test-token-0123456789abcdef"


def write_config(directory: Path, sims: list, *, extra: str = "", integration_extra: str = "",
                 port: int = 0, workers: int = 2) -> Path:
    """A psad.toml for ``sims`` (RunningSimulator objects), with secrets in files; its
    database is the test's backend's when the test holds the ``database`` fixture (a test
    by ``@pytest.mark.usefixtures("database")``, a fixture by taking it as an argument)."""
    from psad.demo import demo_config_text

    text = demo_config_text(directory, port, sims)
    if _configured:
        line = f'database = "{SQLITE_DATABASE}"'
        assert line in text
        text = text.replace(line, f'database = "{_configured[-1]}"')
    text = text.replace("workers = 2", f"workers = {workers}")
    if integration_extra:
        text = text.replace('schedule = "0 4 * * *"', 'schedule = "0 4 * * *"\n' + integration_extra)
    secrets = directory / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "api-token").write_text(TOKEN)
    for sim in sims:
        name = f"demo-{sim.spec.kind.replace('_', '-')}"
        for key, value in sim.spec.secrets.items():
            (secrets / f"{name}-{key}").write_text(value)
    path = directory / "psad.toml"
    path.write_text(text + extra)
    return path


@pytest.fixture
async def cw_sim():
    from psad.simulators.dataset import Dataset
    from psad.simulators.serve import start_simulator

    sim = await start_simulator("connectwise", Dataset.generate(5, companies=10, assets=120,
                                                                contacts=40, tickets=40))
    yield sim
    await sim.stop()


@pytest.fixture
async def open_harness(tmp_path: Path, database: str,
                       request: pytest.FixtureRequest) -> AsyncIterator[HarnessMaker]:
    """Opens a simulator app on a loopback port with a store on the test's backend, a
    session, the engine and a connector (``sim_harness.HarnessMaker``); everything it
    opened is closed afterwards. Each harness has a database of its own."""
    from sim_harness import HarnessMaker

    extra: list[str] = []

    async def open_next(number: int) -> StoreContract:
        if number == 0:
            return await open_test_store(database, tmp_path)
        if database == SQLITE_DATABASE:
            return await open_test_store(f"psad-{number}.db", tmp_path)
        server: PostgresServer = request.getfixturevalue("postgres_server")
        extra.append(server.createdb(template=request.getfixturevalue("postgres_template")))
        return await open_test_store(extra[-1], tmp_path)

    maker = HarnessMaker(open_next)
    yield maker
    await maker.close()
    for url in extra:
        request.getfixturevalue("postgres_server").dropdb(url)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session for talking to a simulator directly."""
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
def serve(aiohttp_server: ServerFactory) -> Serve:
    """Starts an app on aiohttp's test server and answers its root URL (no trailing slash)."""
    async def started(app: web.Application) -> str:
        return str((await aiohttp_server(app)).make_url("")).rstrip("/")
    return started


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def daemon_client(tmp_path: Path, database: str, cw_sim, aiohttp_client):
    """The real daemon app (store, queue, workers, scheduler) on a loopback test server."""
    from prometheus_client import CollectorRegistry

    from psad.config_file import load_config
    from psad.metrics import Metrics
    from psad.runtime import Runtime
    from psad.web.app import create_app

    config = load_config(write_config(tmp_path, [cw_sim]))
    runtime = Runtime(config, Metrics(CollectorRegistry()))
    client = await aiohttp_client(create_app(runtime))
    client.runtime = runtime
    client.sim = cw_sim
    return client


@asynccontextmanager
async def configured_store(config: Path) -> AsyncIterator[StoreContract]:
    """The store a config file names, opened as the daemon opens it (to check what a daemon
    process left behind, on either backend)."""
    from psad.config_file import load_config

    opened = await open_store(load_config(config).database)
    try:
        yield opened
    finally:
        await opened.close()


async def queue_idle(runtime) -> bool:
    """Whether no run waits or runs, as the queue shows it now (on PostgreSQL the shared
    table, not this instance's last look at it)."""
    view = await runtime.queue.view()
    return not view.waiting and not view.running


async def wait_for_run(client, run_id: int, headers: dict[str, str], timeout: float = 20) -> dict:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        resp = await client.get(f"/api/runs/{run_id}", headers=headers)
        run = await resp.json()
        if run["outcome"] not in ("queued", "running"):
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish in {timeout}s")


async def run_sync(store, engine, connector, *, full: bool = False, name: str = "acme"):
    """One manual run of ``connector`` through the real engine, logged like any other."""
    run_id = await store.create_run(name, "manual", "test", full=full, queued_at=engine.clock())
    return await engine.run(run_id, connector, full=full)


def sql_rows(store, sql: str, args: tuple = ()) -> list[tuple]:
    """Raw rows from a SQLite store's file, read-only (for checks no store method answers)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


async def table_columns(store: StoreContract, table: str) -> set[str]:
    """The columns ``table`` has in ``store``'s database, whichever backend it is."""
    from psad.store.postgres import PostgresStore

    if isinstance(store, PostgresStore):
        rows = await store._fetch_all("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = $1", table)
        return {row["column_name"] for row in rows}
    return {row[1] for row in sql_rows(store, f"PRAGMA table_info({table})")}


async def store_snapshot(store: StoreContract, name: str = "acme") -> list[dict]:
    """Every stored row of ``name``, deleted or not, with its write stamps: equal
    snapshots mean no row was written in between."""
    from psad.model import Entity

    return [row for entity in Entity
            for row in await store.records(name, entity, include_deleted=True)]


async def stored_rows(store, entity, *, live: bool = True, name: str = "acme") -> dict:
    """Stored rows of ``entity`` by PSA id; ``live=False`` includes soft-deleted ones."""
    return {r["psa_id"]: r for r in await store.records(name, entity, include_deleted=not live)}


class FakeClock:
    """Time that moves only when something sleeps on it (request budgets, the simulators'
    threshold windows): ``clock()`` reads it, ``await clock.sleep(s)`` advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)
