"""A simulator on a loopback port with a store, an engine and a connector against it.

The per-PSA connector and engine tests all drive a simulator app the same way: serve it
on a free loopback port, open a store on the test's backend (SQLite or PostgreSQL), build
the connector on a client session, and sync through the real engine with no cursor
overlap. The ``open_harness`` fixture in ``conftest.py`` opens these and closes them after
the test; a test file adds only what its vendor needs (a state property, its connector's
settings). ``connect_kind`` builds any PSA's connector from the registry for the tests that
run every PSA alike. The tests that talk to a simulator directly share the ``session`` and
``serve`` fixtures and the ConnectWise simulator's default credentials here.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from conftest import run_sync, stored_rows
from psad.config import IntegrationConfig, SyncConfig
from psad.connectors import registry
from psad.connectors.base import Connector
from psad.engine import RunReport, SyncEngine
from psad.http import PsaClient, RetryPolicy
from psad.model import Entity
from psad.simulators import DATASET_KEY, FAULTS_KEY, REQUEST_LOG_KEY, LoggedRequest, connectwise
from psad.simulators.dataset import Dataset
from psad.simulators.faults import Faults
from psad.simulators.serve import SIMULATORS, serve_app
from psad.store.contract import StoreContract

ServerFactory = Callable[..., Coroutine[Any, Any, TestServer]]
"""pytest-aiohttp's ``aiohttp_server``."""
Serve = Callable[[web.Application], Coroutine[Any, Any, str]]
"""The ``serve`` fixture: an app on aiohttp's test server, answering its root URL."""

CW_API = "/v4_6_release/apis/3.0"
"""The ConnectWise simulator's API prefix with ``create_app``'s default codebase."""
CW_AUTH = {"Authorization": "Basic " + base64.b64encode(b"psad-demo+pub:priv").decode(),
           "clientId": connectwise.DEFAULT_CLIENT_ID}
"""Headers the ConnectWise simulator accepts with ``create_app``'s default credentials."""


@dataclass
class Sim:
    """A simulator app serving on a loopback port."""

    app: web.Application
    runner: web.AppRunner
    root: str
    api_path: str

    @property
    def ds(self) -> Dataset:
        return self.app[DATASET_KEY]

    @property
    def dataset(self) -> Dataset:
        return self.ds

    @property
    def faults(self) -> Faults:
        return self.app[FAULTS_KEY]

    @property
    def base_url(self) -> str:
        return self.root + self.api_path

    def requests(self, path: str | None = None) -> list[LoggedRequest]:
        """The PSA requests served so far (only those for exactly ``path`` if given)."""
        return [r for r in self.app[REQUEST_LOG_KEY].entries if path is None or r.path == path]

    def clear_requests(self) -> None:
        self.app[REQUEST_LOG_KEY].clear()

    async def stop(self) -> None:
        await self.runner.cleanup()


S = TypeVar("S", bound=Sim)
C = TypeVar("C", bound=Connector)


@dataclass
class Harness(Generic[S, C]):
    """One simulator, one store, one client session, the engine and a connector."""

    sim: S
    store: StoreContract
    session: aiohttp.ClientSession
    connector: C
    engine: SyncEngine

    @property
    def ds(self) -> Dataset:
        return self.sim.ds

    async def sync(self, full: bool = False) -> RunReport:
        return await run_sync(self.store, self.engine, self.connector, full=full)

    async def rows(self, entity: Entity, *, live: bool = True) -> dict[str, dict[str, Any]]:
        return await stored_rows(self.store, entity, live=live)

    def requests(self, path: str | None = None) -> list[LoggedRequest]:
        return self.sim.requests(path)

    def clear_requests(self) -> None:
        self.sim.clear_requests()


class HarnessMaker:
    """Opens harnesses, each on the store ``open_store(n)`` opens for the n-th (counting
    from 0), and closes every one it opened."""

    def __init__(self, open_store: Callable[[int], Awaitable[StoreContract]]) -> None:
        self.open_store = open_store
        self.opened: list[Harness[Any, Any]] = []

    async def __call__(self, app: web.Application, api_path: str,
                       connect: Callable[[Any, aiohttp.ClientSession], Connector], *,
                       sim: type[Sim] = Sim, harness: type[Harness[Any, Any]] = Harness) -> Any:
        """Serve ``app`` as a ``sim``, open a store and a session, and ``connect(sim,
        session)``; the ``harness`` type may be a vendor's subclass, so the result is it."""
        started = sim(app, *await serve_app(app), api_path)
        store = await self.open_store(len(self.opened))
        session = aiohttp.ClientSession()
        made = harness(started, store, session, connect(started, session),
                       SyncEngine(store, SyncConfig(cursor_overlap_seconds=0)))
        self.opened.append(made)
        return made

    async def close(self) -> None:
        for made in self.opened:
            await made.connector.close()
            await made.session.close()
            await made.store.close()
            await made.sim.stop()


def connect_kind(kind: str, *, max_retries: int, page_size: int,
                 asset_fields: tuple[str, ...], contact_fields: tuple[str, ...]
                 ) -> Callable[[Sim, aiohttp.ClientSession], Connector]:
    """Builds the registry's connector for ``kind`` against a started simulator, with the
    simulator's own settings and secrets (for the tests that run every PSA alike)."""
    entry = registry.BY_KIND[kind]
    spec = SIMULATORS[entry.simulator]

    def connect(sim: Sim, session: aiohttp.ClientSession) -> Connector:
        client = PsaClient(session, "acme", timeout=10,
                           policy=RetryPolicy(max_retries=max_retries, backoff_base=0.01), psa=kind)
        integration = IntegrationConfig(
            name="acme", kind=kind, base_url=sim.base_url, settings=dict(spec.settings),
            asset_custom_fields=asset_fields, contact_custom_fields=contact_fields,
            page_size=page_size)
        return entry.connector(integration, client, dict(spec.secrets))

    return connect
