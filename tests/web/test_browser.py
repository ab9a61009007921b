"""The dashboard in headless Chromium, against the real daemon app on a loopback port.

Chromium is Debian's (never downloaded); the ``playwright`` package only drives it.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from conftest import ARTIFACTS, TOKEN, queue_idle, require_tool, write_config
from psad.config_file import load_config
from psad.metrics import Metrics
from psad.model import SYNC_ORDER
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
        for _ in range(600):
            if self.runtime.ready and await queue_idle(self.runtime):
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


class Stepper:
    """Lets the integration's syncs fetch one entity per :meth:`step`, so a page watching a
    run sees it at every stage however fast or slow the machine is. An entity's further
    fetches in the same run (a connector listing ids through ``fetch``) are not held."""

    def __init__(self, connector: Any) -> None:
        self.permits = asyncio.Semaphore(0)
        self.admitted: set[Any] = set()
        real = connector.fetch

        async def stepped(entity: Any, *, since: Any = None) -> AsyncIterator[Any]:
            if entity not in self.admitted:
                await self.permits.acquire()
                self.admitted.add(entity)
            async for found in real(entity, since=since):
                yield found

        connector.fetch = stepped

    def new_run(self) -> None:
        self.admitted.clear()

    def step(self) -> None:
        self.permits.release()


@pytest.fixture
async def served(tmp_path: Path, database: str) -> AsyncIterator[Served]:
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
    async with open_page() as opened:
        yield opened


@asynccontextmanager
async def open_page(width: int = 1360) -> AsyncIterator[Any]:
    """A Chromium page that records script errors in ``page.problems``."""
    chromium = require_tool("chromium")
    async_api = require_playwright()
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True,
                                                   args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": width, "height": 900})
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


WATCH_ROW = """
(name) => {
  window.psadSeen = [];
  const row = document.querySelector(`tr[data-integration="${name}"]`);
  new MutationObserver(() => {
    const box = row.querySelector(".row-progress");
    if (box) window.psadSeen.push(box.textContent);
  }).observe(row, {subtree: true, childList: true, characterData: true});
}
"""


SEEN_PERCENT_OVER = """
(over) => window.psadSeen.some((text) => {
  const found = text.match(/(\\d+)% of entities/);
  return found !== null && Number(found[1]) > over;
})
"""
"""Whether the row has shown a share of entities done above ``over``."""


def rising(seen: list[str]) -> tuple[list[int], list[int]]:
    """The fetched counts and entity percentages the row showed, in order."""
    fetched = [int(m.group(1).replace(",", "")) for t in seen
               if (m := re.search(r"([\d,]+) fetched", t))]
    percent = [int(m.group(1)) for t in seen if (m := re.search(r"(\d+)% of entities", t))]
    return fetched, percent


async def click_and_watch(page: Any, row: Any, button: str, label: str,
                          stepper: Stepper) -> int:
    """Click a sync button; the page stays, the row shows counts and percent rising as
    the run fetches one entity after another, and the notice follows the run to its end.
    Returns the run id."""
    expect = require_playwright().expect
    await page.evaluate("window.psadSamePage = true")
    await page.evaluate(WATCH_ROW, NAME)
    before = page.url
    stepper.new_run()
    await row.get_by_role("button", name=button).click()
    notice = page.locator("[data-notices] p").first
    await expect(notice).to_contain_text(f"{label} for {NAME}: run #")
    run_id = int(await notice.get_attribute("data-follow-run") or 0)
    await page.wait_for_function(SEEN_PERCENT_OVER, arg=-1)  # the run, before its first fetch
    for remaining in reversed(range(len(SYNC_ORDER))):
        shown = max(rising(await page.evaluate("window.psadSeen"))[1])
        stepper.step()
        if remaining:  # the last entity ends the run, and the row's progress with it
            await page.wait_for_function(SEEN_PERCENT_OVER, arg=shown)
    await expect(notice).to_have_attribute("data-run-finished", "succeeded", timeout=60_000)
    assert page.url == before and await page.evaluate("window.psadSamePage === true")
    text = await notice.inner_text()
    assert "SUCCEEDED" in text.upper() and " fetched, " in text and "rejected." in text
    fetched, percent = rising(await page.evaluate("window.psadSeen"))
    assert len(set(fetched)) >= 2 and fetched == sorted(fetched), fetched
    assert len(set(percent)) >= 2 and percent == sorted(percent), percent
    await expect(row.locator('[data-field="state"]')).to_contain_text("idle", timeout=30_000)
    return run_id


@pytest.fixture
async def slow_served(tmp_path: Path, database: str) -> AsyncIterator[Served]:
    """Like ``served`` with small pages, so a sync has many steps to watch."""
    sim = await start_simulator("connectwise", Dataset.generate(
        21, companies=12, assets=90, contacts=40, tickets=60))
    config = write_config(tmp_path, [sim], integration_extra="page_size = 10")
    runtime = Runtime(load_config(config), Metrics(CollectorRegistry()))
    runner, root = await serve_app(create_app(runtime))
    try:
        served = Served(root, runtime, sim)
        await served.idle()
        yield served
    finally:
        await runner.cleanup()
        await sim.stop()


@pytest.fixture
async def slow_page(slow_served: Served) -> AsyncIterator[Any]:
    async with open_page() as opened:
        yield opened


async def test_force_and_full_sync_show_live_progress_without_a_reload(
        slow_served: Served, slow_page: Any) -> None:
    page, served = slow_page, slow_served
    ARTIFACTS.mkdir(exist_ok=True)
    await sign_in(page, served.url)
    row = page.locator("tr", has=page.locator(".integration-name", has_text=NAME))
    stepper = Stepper(await served.runtime.connector(NAME))
    await click_and_watch(page, row, "Force Sync", "Force Sync", stepper)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-overview-after-sync.png"),
                          full_page=True)

    full_run = await click_and_watch(page, row, "Full Sync", "Full Sync", stepper)
    await page.goto(f"{served.url}/runs/{full_run}")
    assert "(full)" in await page.locator(".facts").inner_text()
    rows = page.locator("[data-run-entities] tr")
    assert await rows.count() == 8
    assets = rows.filter(has=page.locator("th", has_text="Assets"))
    cells = await assets.locator("td").all_inner_texts()
    assert cells[0] == "full" and cells[1] == "90" and cells[4] == "90"  # fetched, unchanged
    assert await page.locator("[data-run-live-progress]").is_hidden()
    assert page.problems == []


async def test_a_run_page_follows_its_run_to_the_final_counts(
        slow_served: Served, slow_page: Any) -> None:
    page, served = slow_page, slow_served
    await sign_in(page, served.url)
    served.sim.faults.latency = SYNC_LATENCY
    gate = Gate(await served.runtime.connector(NAME))
    submission = await served.runtime.queue.submit(NAME, "force", "test", full=True)
    await page.goto(f"{served.url}/runs/{submission.run_id}")
    await page.evaluate("window.psadSamePage = true")
    expect = require_playwright().expect
    outcome = page.locator('[data-run-field="outcome"]')
    assert await outcome.text_content() in ("queued", "running")  # held at the gate
    gate.release()
    progress = page.locator("[data-run-progress]")
    await expect(progress).to_contain_text("Assets", timeout=30_000)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-run-progress.png"), full_page=True)
    await expect(outcome).to_have_text("succeeded", timeout=60_000)
    served.sim.faults.latency = 0
    assert await page.evaluate("window.psadSamePage === true"), "the page was reloaded"
    assert "Finished: succeeded." in await page.locator('[data-run-field="progress"]').inner_text()
    run = served.runtime.store
    final = await run.get_run(submission.run_id)
    assert final is not None
    for entity in final.entities:
        label = entity.entity.replace("_", " ").capitalize()
        cells = await page.locator("[data-run-entities] tr").filter(
            has=page.locator("th", has_text=label)).first.locator("td").all_inner_texts()
        assert cells[1] == f"{entity.fetched:,}", (label, cells)
    assert await page.locator('[data-run-field="failure_count"]').inner_text() == "0"


@pytest.mark.no_store
async def test_tickets_filter_by_board_and_open_in_the_psa(served: Served, page: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    url = served.url
    await sign_in(page, url)
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
    psa_link = page.get_by_role("link", name="Open in ConnectWise PSA")
    assert f"recid={ticket_id}" in (await psa_link.get_attribute("href") or "")
    assert page.problems == []  # no script errors and no CSP violations


WIDTHS = (1280, 390)
INTEGRATIONS = 10


@pytest.fixture
async def crowded(tmp_path: Path, database: str) -> AsyncIterator[Served]:
    """Ten integrations (all on one simulator), their start-up syncs finished."""
    sim = await start_simulator("connectwise", Dataset.generate(
        21, companies=6, assets=30, contacts=20, tickets=20))
    path = write_config(tmp_path, [sim])
    text = path.read_text()
    block = text[text.index("[[integrations]]"):]
    path.write_text(text + "".join(
        "\n" + block.replace(f'name = "{NAME}"', f'name = "{NAME}-{n}"')
        for n in range(2, INTEGRATIONS + 1)))
    runtime = Runtime(load_config(path), Metrics(CollectorRegistry()))
    runner, root = await serve_app(create_app(runtime))
    try:
        served = Served(root, runtime, sim)
        await served.idle()
        yield served
    finally:
        await runner.cleanup()
        await sim.stop()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.no_store
async def test_every_page_fits_the_screen_with_ten_integrations(crowded: Served,
                                                                width: int) -> None:
    """Screenshots of each page at each width (CI artifacts); nothing runs off the side
    of the page (wide tables scroll inside their box) and Force Sync stays on screen."""
    ARTIFACTS.mkdir(exist_ok=True)
    url = crowded.url
    company = crowded.sim.dataset.ids("companies")[0]
    ticket = crowded.sim.dataset.ids("tickets")[0]
    async with open_page(width) as page:
        await page.goto(url + "/login")
        await page.screenshot(path=str(ARTIFACTS / f"page-login-{width}.png"), full_page=True)
        await sign_in(page, url)
        pages = {"overview": "/", "runs": "/runs", "run": "/runs/1",
                 "companies": f"/integrations/{NAME}/companies",
                 "company": f"/integrations/{NAME}/companies/{company}",
                 "tickets": f"/integrations/{NAME}/tickets",
                 "ticket": f"/integrations/{NAME}/tickets/{ticket}",
                 "setup": f"/integrations/{NAME}",
                 "not-found": "/runs/999999"}
        for label, path in pages.items():
            seen = len(page.problems)
            await page.goto(url + path)
            if label == "not-found":  # the browser reports the 404 it was meant to get
                del page.problems[seen:]
            await page.screenshot(path=str(ARTIFACTS / f"page-{label}-{width}.png"),
                                  full_page=True)
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (label, width, overflow)
            header = await page.locator(".site-header").bounding_box()
            assert header is not None and header["height"] < 160, (label, width, header)
        await page.goto(url + "/")
        assert await page.locator("tr[data-integration]").count() == INTEGRATIONS
        button = page.locator(f'tr[data-integration="{NAME}-{INTEGRATIONS}"]').get_by_role(
            "button", name="Force Sync")
        await button.scroll_into_view_if_needed()
        box = await button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        assert page.problems == []
