"""The dashboard in headless Chromium, against the real daemon app on a loopback port.

Chromium is Debian's (never downloaded); the ``playwright`` package only drives it.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from conftest import ARTIFACTS, TOKEN, require_tool, write_config
from psad.config import load_config
from psad.metrics import Metrics
from psad.runtime import Runtime
from psad.simulators.dataset import Dataset
from psad.simulators.serve import RunningSimulator, serve_app, start_simulator
from psad.web.app import create_app

NAME = "demo-connectwise"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SYNC_LATENCY = 0.1


def require_playwright() -> Any:
    try:
        from playwright import async_api
    except ImportError:
        message = "the playwright package is not installed (pip install -e '.[test]')"
        if os.environ.get("PSAD_REQUIRE_TOOLS"):
            pytest.fail(message)
        pytest.skip(message)
    return async_api


@dataclass
class Served:
    url: str
    runtime: Runtime
    sim: RunningSimulator

    async def idle(self) -> None:
        queue = self.runtime.queue
        for _ in range(600):
            if self.runtime.ready and not queue.waiting and not queue.running:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the sync queue did not drain")


class Gate:
    """Holds the integration's syncs before their first request until :meth:`release`,
    so a page can be seen while a run is live however fast or slow the machine is."""

    def __init__(self, connector: Any) -> None:
        self.opened = asyncio.Event()
        real = connector.fetch

        async def held(entity: Any, *, since: Any = None) -> AsyncIterator[Any]:
            await self.opened.wait()
            async for found in real(entity, since=since):
                yield found

        connector.fetch = held

    def hold(self) -> None:
        self.opened.clear()

    def release(self) -> None:
        self.opened.set()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """The daemon's app on 127.0.0.1 (a real port) with its start-up sync finished."""
    sim = await start_simulator("connectwise", Dataset.generate(
        21, companies=12, assets=90, contacts=40, tickets=60))
    runtime = Runtime(load_config(write_config(tmp_path, [sim])), Metrics(CollectorRegistry()))
    runner, root = await serve_app(create_app(runtime))
    try:
        served = Served(root, runtime, sim)
        await served.idle()
        yield served
    finally:
        await runner.cleanup()
        await sim.stop()


@pytest.fixture
async def page(served: Served) -> AsyncIterator[Any]:
    chromium = require_tool("chromium")
    async_api = require_playwright()
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True,
                                                   args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1360, "height": 900})
            opened = await context.new_page()
            opened.set_default_timeout(15_000)
            problems: list[str] = []
            opened.on("console", lambda msg: problems.append(msg.text)
                      if msg.type == "error" else None)
            opened.on("pageerror", lambda err: problems.append(str(err)))
            opened.problems = problems
            yield opened
        finally:
            await browser.close()


async def sign_in(page: Any, url: str) -> None:
    await page.goto(url + "/")
    assert "/login?next=/" in page.url
    await page.get_by_label("API token").fill(TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(url + "/")
    assert await page.locator("h1").inner_text() == "Integrations"


async def test_force_sync_then_watch_the_run_finish_then_browse_tickets(
        served: Served, page: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    url = served.url
    await sign_in(page, url)
    row = page.locator("tr", has=page.locator(".integration-name", has_text=NAME))
    assert "idle" in await row.locator('[data-field="state"]').inner_text()

    served.sim.faults.latency = SYNC_LATENCY
    gate = Gate(await served.runtime.connector(NAME))
    await row.get_by_role("button", name="Force Sync").click()
    await page.wait_for_url(re.compile(r"/\?synced="))
    notice = page.get_by_role("status")
    text = await notice.inner_text()
    assert f"Force Sync for {NAME}" in text
    assert "is queued (position 1 in the queue)" in text or "has started" in text
    run_id = int(re.search(r"run #(\d+)", text).group(1))  # type: ignore[union-attr]
    state = await row.locator('[data-field="state"]').inner_text()
    assert "QUEUED" in state.upper() or "RUNNING" in state.upper()
    await page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)

    await notice.get_by_role("link", name=f"run #{run_id}").click()
    await page.wait_for_url(f"{url}/runs/{run_id}")
    expect = require_playwright().expect
    outcome = page.locator('[data-run-field="outcome"]')
    assert await outcome.text_content() in ("queued", "running")  # held at the gate
    await page.evaluate("window.psadSamePage = true")
    gate.release()
    await expect(outcome).to_have_text("succeeded", timeout=60_000)
    assert await page.evaluate("window.psadSamePage === true"), "the page was reloaded"
    assert await page.locator("[data-run-entities] tr").count() == 8
    assert "Finished: succeeded." in await page.locator('[data-run-field="progress"]').inner_text()
    assert re.search(r"UTC$", await page.locator('[data-run-field="finished_at"]').inner_text())
    await page.screenshot(path=str(ARTIFACTS / "dashboard-run.png"), full_page=True)

    await page.get_by_role("link", name="Overview").click()
    gate.hold()
    await row.get_by_role("button", name="Force Sync").click()
    await page.wait_for_url(re.compile(r"/\?synced="))
    await page.evaluate("window.psadSamePage = true")
    assert "idle" not in await row.locator('[data-field="state"]').inner_text()
    gate.release()
    await expect(row.locator('[data-field="state"]')).to_contain_text("idle", timeout=60_000)
    assert await page.evaluate("window.psadSamePage === true"), "the overview was reloaded"
    assert await row.locator('[data-field="state"] .badge').text_content() == "succeeded"
    served.sim.faults.latency = 0

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Tickets").click()
    await page.wait_for_url(f"{url}/integrations/{NAME}/tickets")
    board = served.sim.dataset.records("boards")[1]
    await page.get_by_label("Board").select_option(label=board.name)
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_url(re.compile(rf"board={board.id}"))
    boards = await page.locator("table.data tbody tr td:nth-child(4)").all_inner_texts()
    assert boards and set(boards) == {board.name}
    await page.screenshot(path=str(ARTIFACTS / "dashboard-tickets.png"), full_page=True)

    first = page.locator("table.data tbody tr").first.get_by_role("link").first
    ticket_id = (await first.inner_text()).lstrip("#")
    await first.click()
    await page.wait_for_url(f"{url}/integrations/{NAME}/tickets/{ticket_id}")
    assert (await page.locator("h1").inner_text()).startswith(f"#{ticket_id} ")
    psa_link = page.get_by_role("link", name="Open in connectwise")
    assert f"recid={ticket_id}" in (await psa_link.get_attribute("href") or "")
    assert page.problems == []  # no script errors and no CSP violations
