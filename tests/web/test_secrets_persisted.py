"""Secrets a PSA echoes back never reach the sync log, the API or the dashboard."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from conftest import TOKEN, queue_idle, write_config
from psad.config_file import load_config
from psad.logs import register_secret, redact
from psad.metrics import Metrics
from psad.runtime import Runtime
from psad.simulators.dataset import Dataset
from psad.simulators.serve import SIMULATORS, RunningSimulator, serve_app
from psad.store import MAX_ERROR_CHARS, utcnow
from psad.store.contract import StoreContract
from psad.web.app import create_app

HALO_SECRET = "Sq/9+kL=x&7#pQ2!zz-halo"
CW_PUBLIC, CW_PRIVATE = "echo-public-key", "echo/private+key="
CW_CREDENTIAL = f"psad-demo+{CW_PUBLIC}:{CW_PRIVATE}"


def echoing(create: Callable[[Dataset], web.Application], path_part: str, status: int,
            answer: Callable[[web.Request, str], dict[str, str]]
            ) -> Callable[[Dataset], web.Application]:
    """The simulator, but requests to ``path_part`` get an error echoing what was sent,
    as a misconfigured proxy or a chatty PSA does."""
    def build(dataset: Dataset) -> web.Application:
        app = create(dataset)

        @web.middleware
        async def echo(request: web.Request, handler: Any) -> web.StreamResponse:
            if path_part in request.path:
                return web.json_response(answer(request, await request.text()), status=status)
            return await handler(request)

        app.middlewares.insert(0, echo)
        return app
    return build


async def start(kind: str, create: Callable[[Dataset], web.Application],
                secrets: dict[str, str]) -> RunningSimulator:
    spec = dataclasses.replace(SIMULATORS[kind], create=create, secrets=secrets)
    dataset = Dataset.generate(3, companies=4, assets=8, contacts=4)
    app = spec.create(dataset)
    runner, root = await serve_app(app)
    return RunningSimulator(spec, dataset, app, runner, root)


@pytest.fixture
async def echo_sims() -> AsyncIterator[list[RunningSimulator]]:
    halo = await start("halo", echoing(
        SIMULATORS["halo"].create, "/token", 400,
        lambda request, body: {"error": "invalid_client",
                               "error_description": f"client rejected; request was {body}"}),
        {"client_secret": HALO_SECRET})
    connectwise = await start("connectwise", echoing(
        SIMULATORS["connectwise"].create, "/company/", 401,
        lambda request, body: {"code": "Unauthorized", "message": "credentials "
                               f"{request.headers['Authorization'].split()[-1]} not valid"}),
        {"public_key": CW_PUBLIC, "private_key": CW_PRIVATE})
    yield [halo, connectwise]
    for sim in (halo, connectwise):
        await sim.stop()


@pytest.mark.usefixtures("database")
async def test_echoed_secrets_are_redacted_in_the_sync_log_api_and_dashboard(
        tmp_path: Path, echo_sims: list[RunningSimulator], aiohttp_client: Any) -> None:
    config = load_config(write_config(tmp_path, echo_sims))
    runtime = Runtime(config, Metrics(CollectorRegistry()))
    client = await aiohttp_client(create_app(runtime))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    run_ids = [(await (await client.post(f"/api/integrations/{name}/sync", headers=auth)
                       ).json())["run_id"] for name in ("demo-halo", "demo-connectwise")]
    while not await queue_idle(runtime):
        await asyncio.sleep(0.05)
    shown = []
    for run_id in run_ids:
        run = await (await client.get(f"/api/runs/{run_id}", headers=auth)).json()
        assert run["outcome"] == "failed" and "***" in run["error"]
        shown += [str(run), await (await client.get(f"/runs/{run_id}", headers=auth)).text()]
    stored = []
    for run in await runtime.store.list_runs():
        detail = await runtime.store.get_run(run.id)
        assert detail is not None
        stored += [str(run.error)] + [error.message for error in detail.errors]
    assert any("***" in message for message in stored)
    haystack = "\n".join(shown + stored)
    basic = base64.b64encode(CW_CREDENTIAL.encode()).decode()
    for secret in (HALO_SECRET, CW_PRIVATE, CW_CREDENTIAL, basic):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            assert form not in haystack, form


def test_encoded_forms_of_a_registered_secret_are_redacted() -> None:
    secret = "p@ss/w+rd=Long&odd"
    register_secret(secret)
    for form in (secret, quote(secret, safe=""), quote_plus(secret),
                 base64.b64encode(secret.encode()).decode()):
        assert redact(f"upstream said: {form} (end)") == "upstream said: *** (end)"


def test_values_too_short_to_be_secrets_are_never_registered() -> None:
    register_secret("must")
    register_secret("1234567")
    assert redact("it must be at least 16 characters, not 1234567") == \
        "it must be at least 16 characters, not 1234567"


async def test_stored_errors_are_capped(store: StoreContract) -> None:
    run_id = await store.create_run("acme", "manual", "t", full=False, queued_at=utcnow())
    await store.add_run_errors(run_id, [(None, None, "x" * 100_000)], at=utcnow())
    await store.update_run(run_id, error="y" * 100_000)
    run = await store.get_run(run_id)
    assert run is not None
    assert len(run.run.error or "") < MAX_ERROR_CHARS + 20
    assert len(run.errors[0].message) < MAX_ERROR_CHARS + 20
