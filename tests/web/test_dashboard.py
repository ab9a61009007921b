"""The dashboard on the real app: the real store, queue and workers, and the ConnectWise
simulator on loopback serving PSA data that carries HTML and script."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from conftest import TOKEN, queue_idle, write_config
from psad.config_file import load_config
from psad.metrics import Metrics
from psad.runtime import Runtime
from psad.simulators import REQUEST_LOG_KEY
from psad.simulators.dataset import Dataset
from psad.simulators.serve import RunningSimulator, start_simulator
from psad.web.app import create_app

NAME = "demo-connectwise"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
TICKETS = "/v4_6_release/apis/3.0/service/tickets"


class Hostile:
    """Where the PSA data carrying markup lives in the simulator's dataset."""

    def __init__(self, ds: Dataset) -> None:
        companies = ds.records("companies")
        active = next(s.id for s in ds.records("company_statuses") if s.name == "Active")
        self.company = companies[0]
        ds.update("companies", self.company.id, name=f"{SCRIPT} Dental", status_id=active,
                  website="javascript:alert(1)")
        self.other = companies[1]
        ds.update("companies", self.other.id, name=f"{IMG} Legal", status_id=active)
        self.outside = next(c for c in companies[2:] if c.status_id != active)
        self.asset = next(a for a in ds.records("assets") if a.company_id == self.company.id)
        ds.update("assets", self.asset.id, notes=IMG,
                  custom_fields={**self.asset.custom_fields, "Rack": SCRIPT})
        self.contact = next(c for c in ds.records("contacts") if c.company_id == self.company.id)
        ds.update("contacts", self.contact.id, first_name=SCRIPT, last_name=IMG)
        self.ticket = ds.records("tickets")[-1]  # newest: on the first page
        ds.update("tickets", self.ticket.id, summary=f"{SCRIPT} printer {IMG}")
        self.broken_asset = next(a for a in ds.records("assets") if a.id != self.asset.id)
        ds.corrupt("assets", self.broken_asset.id, "name", None)


def hostile_dataset() -> Dataset:
    ds = Dataset.generate(11, companies=10, assets=80, contacts=40, tickets=40)
    for contact in ds.records("contacts")[:3]:
        if contact.company_id is None:
            ds.update("contacts", contact.id, company_id=ds.ids("companies")[0])
    return ds


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    running = await start_simulator("connectwise", hostile_dataset())
    yield running
    await running.stop()


@pytest.fixture
async def client(tmp_path: Path, database: str, sim: RunningSimulator,
                 aiohttp_client: Any) -> TestClient:
    """The real daemon app, after its start-up sync of the hostile data has finished."""
    hostile = Hostile(sim.dataset)
    path = write_config(tmp_path, [sim],
                        integration_extra='company_filter = { statuses = ["Active"] }')
    runtime = Runtime(load_config(path), Metrics(CollectorRegistry()))
    test_client: TestClient = await aiohttp_client(create_app(runtime))
    test_client.runtime = runtime  # type: ignore[attr-defined]
    test_client.hostile = hostile  # type: ignore[attr-defined]
    await settle(test_client)
    return test_client


async def settle(client: TestClient) -> None:
    runtime = client.runtime  # type: ignore[attr-defined]
    for _ in range(400):
        if runtime.ready and await queue_idle(runtime):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the sync queue did not drain")


async def login(client: TestClient) -> None:
    resp = await client.post("/login", data={"token": TOKEN, "next": "/"},
                             allow_redirects=False)
    assert resp.status == 303


async def html(client: TestClient, path: str, status: int = 200) -> str:
    resp = await client.get(path, allow_redirects=False)
    body = await resp.text()
    assert resp.status == status, (path, resp.status, body[:500])
    assert resp.content_type == "text/html" and resp.charset == "utf-8"
    return body


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


async def run_count(client: TestClient) -> int:
    return await client.runtime.store.run_count()  # type: ignore[attr-defined, no-any-return]


def assert_inert(page: str, *raw: str) -> None:
    """Every raw markup string is absent; only its escaped form may appear."""
    for text in raw:
        assert text not in page
    assert "<img" not in page and "alert(1)</script>" not in page


# -- signing in ----------------------------------------------------------------------


async def test_pages_redirect_to_login_and_login_sets_a_strict_httponly_cookie(
        client: TestClient) -> None:
    resp = await client.get("/runs", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login?next=/runs")
    form = await html(client, "/login?next=/runs")
    assert 'name="next" value="/runs"' in form and 'type="password"' in form
    assert "demo-connectwise" not in form  # nothing about integrations before signing in

    wrong = await client.post("/login", data={"token": "not-the-token", "next": "/runs"},
                              allow_redirects=False)
    assert wrong.status == 401 and "not psad&#39;s API token" in await wrong.text()
    assert "psad_session" not in wrong.cookies

    resp = await client.post("/login", data={"token": TOKEN, "next": "/runs"},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/runs"
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("psad_session=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Sync log" in await html(client, "/runs")


async def test_login_redirects_only_to_a_local_path(client: TestClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "runs"):
        resp = await client.post("/login", data={"token": TOKEN, "next": target},
                                 allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/", target


async def test_static_files_are_public_and_everything_else_needs_a_session(
        client: TestClient) -> None:
    css = await client.get("/static/psad.css")
    assert css.status == 200 and css.content_type == "text/css"
    js = await client.get("/static/psad.js")
    assert js.status == 200 and "javascript" in js.content_type
    for path in ("/", f"/integrations/{NAME}/companies", f"/integrations/{NAME}/tickets",
                 "/runs/1"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/login"), path
    resp = await client.post(f"/integrations/{NAME}/sync", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/login"


async def test_logout_needs_the_csrf_token_and_ends_the_session(client: TestClient) -> None:
    await login(client)
    token = csrf_of(await html(client, "/"))
    assert (await client.post("/logout", data={}, allow_redirects=False)).status == 403
    resp = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/login"
    assert (await client.get("/", allow_redirects=False)).status == 303


# -- Force Sync ----------------------------------------------------------------------


async def test_force_sync_without_or_with_a_bad_csrf_token_is_refused(
        client: TestClient) -> None:
    await login(client)
    before = await run_count(client)
    for data in ({}, {"csrf_token": "0" * 64}, {"csrf_token": ""}):
        resp = await client.post(f"/integrations/{NAME}/sync", data=data,
                                 allow_redirects=False)
        assert resp.status == 403, data
        assert "security token" in await resp.text()
    assert await run_count(client) == before


async def test_force_sync_redirects_back_to_the_overview_showing_the_run_queued(
        client: TestClient, sim: RunningSimulator) -> None:
    await login(client)
    token = csrf_of(await html(client, "/"))
    sim.faults.latency = 0.02
    resp = await client.post(f"/integrations/{NAME}/sync", data={"csrf_token": token},
                             allow_redirects=False)
    assert resp.status == 303
    location = resp.headers["Location"]
    match = re.fullmatch(rf"/\?synced={NAME}&run=(\d+)&position=(\d+)", location)
    assert match, location
    run_id = int(match.group(1))
    run = (await client.runtime.store.get_run(run_id)).run  # type: ignore[attr-defined]
    assert run.trigger == "force" and run.requested_by == "dashboard"
    page = await html(client, location)
    assert f'<a href="/runs/{run_id}">run #{run_id}</a>' in page
    assert ("is queued (position 1" in page) if match.group(2) == "1" else "has started" in page
    assert f'href="/runs/{run_id}"><span class="badge badge-' in page  # the state column
    sim.faults.latency = 0
    await settle(client)


async def test_force_sync_sent_from_another_site_is_refused_even_with_the_token(
        client: TestClient) -> None:
    await login(client)
    token = csrf_of(await html(client, "/"))
    before = await run_count(client)
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        resp = await client.post(f"/integrations/{NAME}/sync", data={"csrf_token": token},
                                 headers=headers, allow_redirects=False)
        assert resp.status == 403, headers
        assert "another site" in await resp.text()
    assert await run_count(client) == before
    own = f"http://{client.host}:{client.port}"
    resp = await client.post(f"/integrations/{NAME}/sync", data={"csrf_token": token},
                             headers={"Origin": own, "Sec-Fetch-Site": "same-origin"},
                             allow_redirects=False)
    assert resp.status == 303
    await settle(client)


async def test_force_sync_for_an_unknown_integration_is_a_404_page(client: TestClient) -> None:
    await login(client)
    token = csrf_of(await html(client, "/"))
    resp = await client.post("/integrations/nope/sync", data={"csrf_token": token},
                             allow_redirects=False)
    assert resp.status == 404 and "no integration named" in await resp.text()


# -- overview and sync log ------------------------------------------------------------


async def test_overview_shows_kind_state_last_success_next_nightly_and_counts(
        client: TestClient, sim: RunningSimulator) -> None:
    await login(client)
    page = await html(client, "/")
    assert f'<span class="integration-name">{NAME}</span>' in page
    assert '<td class="nowrap" data-label="PSA">ConnectWise PSA</td>' in page
    assert "idle" in page and 'badge-partial">partial' in page  # one asset was rejected
    assert "<code>0 4 * * *</code> UTC" in page and '<time datetime="' in page
    counts = await client.runtime.store.count_records(NAME)  # type: ignore[attr-defined]
    assert f"{counts['assets'].live} assets" in page
    outside = counts["companies"].out_of_scope
    assert outside > 0 and counts["assets"].out_of_scope > 0
    assert (f'<th scope="row">Companies</th><td class="num">{10 - outside}</td>'
            f'<td class="num">0</td><td class="num">{outside}</td>') in page
    assert f'action="/integrations/{NAME}/sync" data-sync-form' in page
    assert '<button type="submit" name="full" value="0"' in page and ">Force Sync</button>" in page
    assert '<button type="submit" name="full" value="1"' in page and ">Full Sync</button>" in page


async def test_the_page_script_gets_a_sync_answer_as_json_and_full_sync_is_full(
        client: TestClient) -> None:
    await login(client)
    token = csrf_of(await html(client, "/"))
    resp = await client.post(f"/integrations/{NAME}/sync",
                             data={"csrf_token": token, "full": "1"},
                             headers={"Accept": "application/json", "X-CSRF-Token": token},
                             allow_redirects=False)
    assert resp.status == 200
    answer = await resp.json()
    assert answer["full"] is True and answer["deduplicated"] is False
    run = await client.runtime.store.get_run(answer["run_id"])  # type: ignore[attr-defined]
    assert run is not None and run.run.full_sync and run.run.requested_by == "dashboard"
    await settle(client)
    page = await html(client, "/" + f"?synced={NAME}&run={answer['run_id']}&full=1")
    assert f'data-follow-run="{answer["run_id"]}" data-label="Full Sync for {NAME}"' in page


async def test_sync_log_lists_runs_newest_first_with_filters_and_paging(
        client: TestClient, sim: RunningSimulator) -> None:
    await login(client)
    sim.dataset.clear_corruption()
    token = csrf_of(await html(client, "/"))
    for _ in range(2):
        await client.post(f"/integrations/{NAME}/sync", data={"csrf_token": token},
                          allow_redirects=False)
        await settle(client)
    page = await html(client, "/runs")
    ids = [int(i) for i in re.findall(r'<a href="/runs/(\d+)">#', page)]
    assert len(ids) == 3 and ids == sorted(ids, reverse=True)
    assert "startup" in page and "dashboard" in page
    filtered = await html(client, f"/runs?integration={NAME}&outcome=partial")
    assert re.findall(r'<a href="/runs/(\d+)">#', filtered) == [str(ids[-1])]
    assert '<option value="partial" selected>' in filtered
    blank = await html(client, "/runs?integration=&outcome=")
    assert re.findall(r'<a href="/runs/(\d+)">#', blank) == [str(i) for i in ids]
    older = await html(client, f"/runs?before={ids[0]}")
    assert re.findall(r'<a href="/runs/(\d+)">#', older) == [str(i) for i in ids[1:]]
    assert "No runs match" in await html(client, "/runs?outcome=failed")
    assert "outcome" in await html(client, "/runs?outcome=great", status=400)


async def test_run_page_shows_timings_entity_counts_and_every_record_error(
        client: TestClient) -> None:
    await login(client)
    (run,) = await client.runtime.store.list_runs(limit=1)  # type: ignore[attr-defined]
    page = await html(client, f"/runs/{run.id}")
    assert f"Run #{run.id}" in page and 'data-run-field="outcome">partial' in page
    assert "data-live-run" not in page and 'http-equiv="refresh"' not in page
    broken = client.hostile.broken_asset.id  # type: ignore[attr-defined]
    assert "name: required text is missing" in page and f"<td>{broken}</td>" in page
    for entity in ("Companies", "Sites", "Assets", "Contacts", "Ticket statuses"):
        assert f'<th scope="row">{entity}' in page
    assert "Started</dt>" in page and " UTC</dd>" in page
    assert "demo-connectwise" in page
    await html(client, "/runs/999999", status=404)


async def test_a_queued_or_running_run_page_follows_the_run(client: TestClient,
                                                            sim: RunningSimulator) -> None:
    await login(client)
    token = csrf_of(await html(client, "/"))
    sim.faults.latency = 0.05
    resp = await client.post(f"/integrations/{NAME}/sync", data={"csrf_token": token},
                             allow_redirects=False)
    run_id = re.search(r"run=(\d+)", resp.headers["Location"]).group(1)  # type: ignore[union-attr]
    page = await html(client, f"/runs/{run_id}")
    assert f'data-live-run="{run_id}"' in page
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    assert "This page follows it." in page
    sim.faults.latency = 0
    await settle(client)
    done = await html(client, f"/runs/{run_id}")
    assert "data-live-run" not in done and 'data-run-field="outcome">' in done


# -- synced data ------------------------------------------------------------------------


async def test_companies_are_searchable_by_name_and_marked_deleted_or_out_of_scope(
        client: TestClient, sim: RunningSimulator) -> None:
    await login(client)
    hostile = client.hostile  # type: ignore[attr-defined]
    gone = sim.dataset.records("companies")[-1]
    sim.dataset.delete("companies", gone.id)
    token = csrf_of(await html(client, "/"))
    await client.post(f"/integrations/{NAME}/sync", data={"csrf_token": token},
                      allow_redirects=False)
    await settle(client)

    page = await html(client, f"/integrations/{NAME}/companies")
    assert "of 10" in page and page.count('class="mark mark-deleted"') == 1
    row = re.search(rf'href="/integrations/{NAME}/companies/{gone.id}">[^<]*</a> '
                    r'<span class="mark mark-deleted"', page)
    assert row, "the deleted company is listed and marked"
    outside = re.search(rf'href="/integrations/{NAME}/companies/{hostile.outside.id}">'
                        r'[^<]*</a> <span class="mark mark-scope"', page)
    assert outside, "a company outside the filter is listed and marked"

    found = await html(client, f"/integrations/{NAME}/companies?q=dental")
    assert found.count(f'href="/integrations/{NAME}/companies/') == 1
    assert "1 of 1" in found and 'value="dental"' in found
    assert "No company name contains" in await html(
        client, f"/integrations/{NAME}/companies?q=100%25")
    assert "page" in await html(client, f"/integrations/{NAME}/companies?page=0", status=400)


async def test_companies_are_paged(client: TestClient, sim: RunningSimulator) -> None:
    from psad.web import dashboard

    await login(client)
    dashboard.COMPANIES_PER_PAGE, saved = 4, dashboard.COMPANIES_PER_PAGE
    try:
        first = await html(client, f"/integrations/{NAME}/companies")
        second = await html(client, f"/integrations/{NAME}/companies?page=2")
    finally:
        dashboard.COMPANIES_PER_PAGE = saved
    link = re.compile(rf'<th scope="row"><a href="/integrations/{NAME}/companies/(\d+)"')
    assert len(link.findall(first)) == 4 and len(link.findall(second)) == 4
    assert not set(link.findall(first)) & set(link.findall(second))
    assert 'href="/integrations/demo-connectwise/companies?page=2" rel="next"' in first
    assert "Showing 5–8 of 10" in second


async def test_company_page_shows_sites_contacts_and_assets_with_custom_fields(
        client: TestClient, sim: RunningSimulator) -> None:
    await login(client)
    ds = sim.dataset
    hostile = client.hostile  # type: ignore[attr-defined]
    company = hostile.company
    page = await html(client, f"/integrations/{NAME}/companies/{company.id}")
    sites = [s for s in ds.records("sites") if s.company_id == company.id]
    assert sites and all(s.name in page for s in sites)
    assert f'Sites <span class="count">{len(sites)}</span>' in page
    assets = [a for a in ds.records("assets")
              if a.company_id == company.id and a.id != hostile.broken_asset.id]
    assert f'Assets <span class="count">{len(assets)}</span>' in page
    assert "<dt>Backup</dt>" in page and "<dt>Rack</dt>" in page
    contacts = [c for c in ds.records("contacts") if c.company_id == company.id]
    assert f'Contacts <span class="count">{len(contacts)}</span>' in page
    assert "<dt>VIP</dt>" in page
    assert f'/tickets?company={company.id}"' in page
    other = hostile.other
    other_page = await html(client, f"/integrations/{NAME}/companies/{other.id}")
    assert f'<a href="https://{other.website.removeprefix("https://")}" rel="noopener' in other_page
    await html(client, f"/integrations/{NAME}/companies/999999", status=404)
    await html(client, "/integrations/nope/companies", status=404)


async def test_psa_markup_in_names_notes_and_contacts_renders_as_text(
        client: TestClient) -> None:
    await login(client)
    hostile = client.hostile  # type: ignore[attr-defined]
    escaped_script = "&lt;script&gt;alert(1)&lt;/script&gt;"
    escaped_img = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"

    listing = await html(client, f"/integrations/{NAME}/companies")
    assert f"{escaped_script} Dental" in listing and f"{escaped_img} Legal" in listing
    assert_inert(listing, SCRIPT, IMG)
    assert "<td>javascript:alert(1)</td>" in listing  # such a website is text, never a link
    assert 'href="javascript' not in listing

    detail = await html(client, f"/integrations/{NAME}/companies/{hostile.company.id}")
    assert f"<h1>{escaped_script} Dental" in detail
    assert f'<td class="notes">{escaped_img}</td>' in detail  # asset notes
    assert f"<dd>{escaped_script}</dd>" in detail  # an asset custom field
    assert f"{escaped_script} {escaped_img}" in detail  # contact first and last name
    assert_inert(detail, SCRIPT, IMG)
    assert 'href="javascript' not in detail

    tickets = await html(client, f"/integrations/{NAME}/tickets")
    assert f">{escaped_script} Dental</option>" in tickets
    assert f"{escaped_script} printer {escaped_img}" in tickets
    assert_inert(tickets, SCRIPT, IMG)
    ticket = await html(client, f"/integrations/{NAME}/tickets/{hostile.ticket.id}")
    assert f"{escaped_script} printer {escaped_img}" in ticket
    assert_inert(ticket, SCRIPT, IMG)


# -- live tickets -----------------------------------------------------------------------


async def test_tickets_page_filters_through_the_psa_with_choices_from_setup_data(
        client: TestClient, sim: RunningSimulator) -> None:
    await login(client)
    ds = sim.dataset
    page = await html(client, f"/integrations/{NAME}/tickets")
    for board in ds.records("boards"):
        assert f'<option value="{board.id}">{board.name}</option>' in page
    for priority in ds.records("priorities"):
        assert f'<option value="{priority.id}">{priority.name}</option>' in page
    assert "<optgroup label=" in page and "Closed</option>" in page
    listed = re.findall(rf'href="/integrations/{NAME}/tickets/(\d+)"', page)
    assert len(listed) == 25 and 'rel="next"' in page

    board = ds.records("boards")[0]
    log = sim.app[REQUEST_LOG_KEY]
    log.clear()
    query = f"company=&board={board.id}&status=&priority=&q=printer"
    filtered = await html(client, f"/integrations/{NAME}/tickets?{query}")
    (call,) = [e for e in log.entries if e.path == TICKETS]
    assert call.query["conditions"] == f'board/id={board.id} and summary contains "printer"'
    want = [t for t in ds.records("tickets")
            if t.board_id == board.id and "printer" in t.summary.lower()]
    shown = re.findall(rf'href="/integrations/{NAME}/tickets/(\d+)"', filtered)
    assert sorted(map(int, shown)) == sorted(t.id for t in want)
    assert f'<option value="{board.id}" selected>' in filtered and 'value="printer"' in filtered

    page2 = await html(client, f"/integrations/{NAME}/tickets?page=2")
    assert not set(re.findall(rf'tickets/(\d+)"', page2)) & set(listed)
    assert "company" in await html(client, f"/integrations/{NAME}/tickets?company=a%20b",
                                   status=400)


async def test_ticket_page_shows_the_ticket_and_links_back_to_the_psa(
        client: TestClient, sim: RunningSimulator) -> None:
    await login(client)
    ticket = sim.dataset.records("tickets")[3]
    page = await html(client, f"/integrations/{NAME}/tickets/{ticket.id}")
    assert f"#{ticket.id} {ticket.summary}" in page
    assert f"recid={ticket.id}" in page and ">Open in ConnectWise PSA</a>" in page
    assert f'href="/integrations/{NAME}/tickets">Tickets</a>' in page
    missing = await html(client, f"/integrations/{NAME}/tickets/999999", status=404)
    assert "no such ticket" in missing


async def test_upstream_ticket_failure_renders_a_clear_502_page(
        client: TestClient, sim: RunningSimulator) -> None:
    await login(client)
    sim.faults.status(TICKETS, 400, count=None)
    listing = await html(client, f"/integrations/{NAME}/tickets", status=502)
    assert "Tickets could not be loaded" in listing and "connectwise answered with an error" in listing
    assert "Traceback" not in listing and "<form" in listing  # the filters are still there
    detail = await html(client, f"/integrations/{NAME}/tickets/1", status=502)
    assert "The PSA answered with an error" in detail and "Traceback" not in detail
    sim.faults.clear()
    sim.faults.status(TICKETS, 403, count=None)
    refused = await html(client, f"/integrations/{NAME}/tickets", status=502)
    assert "refused psad&#39;s credentials" in refused


# -- every page ---------------------------------------------------------------------------


async def test_every_page_sends_the_csp_and_has_no_inline_script_or_style(
        client: TestClient) -> None:
    await login(client)
    hostile = client.hostile  # type: ignore[attr-defined]
    (run,) = await client.runtime.store.list_runs(limit=1)  # type: ignore[attr-defined]
    for path in ("/", "/runs", f"/runs/{run.id}", f"/integrations/{NAME}/companies",
                 f"/integrations/{NAME}/companies/{hostile.company.id}",
                 f"/integrations/{NAME}/tickets", f"/integrations/{NAME}/tickets/1", "/login"):
        resp = await client.get(path, allow_redirects=False)
        page = await resp.text()
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"], path
        tags = Tags()
        tags.feed(page)
        assert tags.scripts in ([{"src": "/static/psad.js", "defer": None}], []), path
        assert not tags.inline, (path, tags.inline)


class Tags(HTMLParser):
    """The page's script tags, and any inline style or event-handler attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.scripts.append(dict(attrs))
        self.inline += [(tag, name) for name, _ in attrs
                        if name == "style" or name.startswith("on")]
        href = dict(attrs).get("href") or ""
        if href.lower().startswith("javascript:"):
            self.inline.append((tag, href))


# -- templating ----------------------------------------------------------------------------


def test_times_read_as_relative_with_the_exact_utc_moment_alongside() -> None:
    from datetime import UTC, datetime

    from psad.web.templating import ago, duration, iso

    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert ago("2026-01-02T11:57:00+00:00", now) == "3 min ago"
    assert ago("2026-01-02T17:00:00+00:00", now) == "in 5 h"
    assert ago("2026-01-02T11:59:58+00:00", now) == "just now"
    assert ago(None, now) == "never" and ago("not a time", now) == "never"
    assert iso("2026-01-02T13:04:05.123456+01:00") == "2026-01-02 12:04:05 UTC"
    assert duration("2026-01-02T12:00:00+00:00", "2026-01-02T12:02:05+00:00") == "2 min 5 s"
    assert duration(None, None) == "—"


def test_templates_autoescape_refuse_undefined_names_and_honour_psad_templates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jinja2

    from psad.web.templating import create_environment, http_url, templates_dir

    (tmp_path / "t.html").write_text("<p>{{ name }}</p>")
    monkeypatch.setenv("PSAD_TEMPLATES", str(tmp_path))
    assert templates_dir() == tmp_path.resolve()
    template = create_environment().get_template("t.html")
    assert template.render(name=SCRIPT) == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    with pytest.raises(jinja2.UndefinedError):
        template.render()
    assert http_url("www.example.com/x") == "https://www.example.com/x"
    assert http_url("http://example.com") == "http://example.com"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//evil.example", "a b.com", None):
        assert http_url(bad) is None, bad
