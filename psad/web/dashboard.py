"""The dashboard: HTML pages built from the same store calls as the JSON API.

Every page works without JavaScript; ``/static/psad.js`` only lets a queued or
running run's page (and the overview) follow it live through the JSON API.
A form that changes something is a POST carrying the session's CSRF token, and
is refused outright when the browser says it was sent from another site.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiDictProxy

from psad.config import IntegrationConfig
from psad.model import Entity
from psad.store import OUTCOMES
from psad.store.contract import COMPANY_CHILDREN, TicketChoices
from psad.web import templating
from psad.web.api import (force_sync, int_between, integration_or_404, nonempty, one_of,
                          parse_query, requester, run_details, runtime, search_text)
from psad.web.auth import bearer
from psad.web.data import decode_cursor, entity_query, next_cursor
from psad.web.errors import ApiError, Handler
from psad.web.session import (CSRF_HEADER, SESSIONS_KEY, client_address, csrf_ok, csrf_token,
                              issue, revoke, same_origin, session_ok)
from psad.web.tickets import fetch_ticket, fetch_ticket_page, ticket_query

routes = web.RouteTableDef()
RUNS_PER_PAGE = 50
COMPANIES_PER_PAGE = 50
RECORDS_PER_PAGE = 50
MAX_ID = 2**62
LIVE_OUTCOMES = ("queued", "running")
STATUS_TITLES = {
    400: "Bad request", 401: "Not signed in", 403: "Refused", 404: "Not found",
    409: "Not possible right now", 502: "The PSA answered with an error",
    503: "psad is unavailable", 504: "The PSA did not answer in time",
}


class PageError(Exception):
    """A page that cannot be shown; rendered as an HTML error page with its status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def setup_templates(app: web.Application) -> None:
    folder = templating.setup(app)
    app.router.add_static("/static/", folder / "static", name="static")


# -- rendering ---------------------------------------------------------------------


def signed_in(request: web.Request) -> bool:
    return session_ok(request) or runtime(request).tokens.api_ok(bearer(request))


def show(request: web.Request, template: str, *, nav: str, status: int = 200,
         integration: str | None = None, **context: Any) -> web.Response:
    authenticated = signed_in(request)
    names = [i.name for i in runtime(request).config.integrations] if authenticated else []
    base = {"nav": nav, "signed_in": authenticated, "has_session": session_ok(request),
            "integration_names": names, "integration": integration,
            "csrf_token": csrf_token(request) if authenticated else ""}
    return templating.render(request, template, {**base, **context}, status=status)


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    name = request.match_info.get("name")
    known = name is not None and runtime(request).config.integration(name) is not None
    return show(request, "error.html", nav="error", status=status,
                integration=name if known else None,
                title=STATUS_TITLES.get(status, "Something went wrong"), message=message)


def page(handler: Handler) -> Handler:
    """Turn API-style and page errors raised by a handler into an HTML page."""
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except PageError as err:
            return error_page(request, err.status, err.message)
        except ApiError as err:
            return error_page(request, err.status, err.message)
    return wrapped


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def without_blanks(request: web.Request) -> web.Request:
    """The request minus empty query values (what an unset filter in a GET form sends)."""
    kept = [(k, v) for k, v in request.query.items() if v.strip()]
    if len(kept) == len(request.query):
        return request
    return request.clone(rel_url=request.rel_url.with_query(kept))


def local_path(value: str | None) -> str | None:
    """``value`` if it is a path on this site (a safe redirect target), else None."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(c) < 32 for c in value):
        return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None


# -- forms and CSRF ----------------------------------------------------------------


def field(form: MultiDictProxy[Any], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


async def posted_form(request: web.Request, *, csrf: bool = True) -> MultiDictProxy[Any]:
    if not same_origin(request):
        raise PageError(403, "This form was sent from another site, so psad refused it.")
    form = await request.post()
    presented = field(form, "csrf_token") or request.headers.get(CSRF_HEADER)
    if csrf and not csrf_ok(request, presented):
        raise PageError(403, "The form's security token is missing or out of date. "
                             "Reload the page and try again.")
    return form


# -- queries shared with the JSON API ---------------------------------------------------


def ticket_choices(choices: TicketChoices) -> dict[str, Any]:
    """Filter choices for the tickets page: statuses grouped under their board's name."""
    board_names = {b["psa_id"]: b["name"] for b in choices.boards}
    groups: dict[str, list[dict[str, Any]]] = {}
    for status in choices.statuses:
        label = board_names.get(status["board_psa_id"] or "", "All boards")
        groups.setdefault(label, []).append(status)
    return {
        "companies": choices.companies,
        "boards": choices.boards,
        "status_groups": sorted(groups.items(), key=lambda item: item[0].lower()),
        "priorities": choices.priorities,
    }


# -- sign in and out -----------------------------------------------------------------


@routes.get("/login")
@page
async def login_form(request: web.Request) -> web.Response:
    target = local_path(request.query.get("next")) or "/"
    if session_ok(request):
        return see_other(target)
    return show(request, "login.html", nav="login", next=target, problem=None)


@routes.post("/login")
@page
async def login(request: web.Request) -> web.Response:
    form = await posted_form(request, csrf=False)
    target = local_path(field(form, "next")) or "/"
    sessions, address = request.app[SESSIONS_KEY], client_address(request)
    if wait := sessions.retry_after(address):
        response = show(request, "login.html", nav="login", status=429, next=target,
                        problem=f"Too many failed sign-ins from {address}; "
                                f"try again in {wait} s.")
        response.headers["Retry-After"] = str(wait)
        return response
    if not runtime(request).tokens.api_ok(field(form, "token")):
        sessions.failed(address, "sign-in")
        return show(request, "login.html", nav="login", status=401, next=target,
                    problem="That is not psad's API token.")
    sessions.succeeded(address)
    response = see_other(target)
    issue(request, response)
    return response


@routes.post("/logout")
@page
async def logout(request: web.Request) -> web.Response:
    await posted_form(request)
    response = see_other("/login")
    await revoke(request, response)
    return response


# -- overview and Force Sync ---------------------------------------------------------


@routes.get("/")
@page
async def overview(request: web.Request) -> web.Response:
    flash = parse_query(request, {"synced": nonempty, "run": int_between(1, MAX_ID),
                                  "position": int_between(0, 1_000_000),
                                  "again": one_of(("1",)), "full": one_of(("1",))})
    known = runtime(request).config.integration(flash.get("synced", "")) is not None
    notice = None
    if known and "run" in flash:
        notice = {"synced": flash["synced"], "run": flash["run"],
                  "position": flash.get("position", 0), "again": "again" in flash,
                  "full": "full" in flash}
    return show(request, "overview.html", nav="overview",
                integrations=await runtime(request).integration_summaries(), flash=notice)


@routes.post("/integrations/{name}/sync")
@page
async def force_sync_form(request: web.Request) -> web.Response:
    form = await posted_form(request)
    name = request.match_info["name"]
    full = field(form, "full") == "1"
    run_id, position, deduplicated = await force_sync(
        request, requester(request, "dashboard"), full=full)
    if request.headers.get("Accept") == "application/json":  # the page's script: no reload
        return web.json_response({"run_id": run_id, "position": position,
                                  "deduplicated": deduplicated, "full": full})
    flash = {"synced": name, "run": run_id, "position": position,
             "again": "1" if deduplicated else None, "full": "1" if full else None}
    return see_other("/" + templating.query(flash))


# -- sync log ------------------------------------------------------------------------


@routes.get("/runs")
@page
async def runs_page(request: web.Request) -> web.Response:
    filters = parse_query(without_blanks(request), {
        "integration": nonempty, "outcome": one_of(OUTCOMES),
        "before": int_between(1, MAX_ID)})
    runs = await runtime(request).store.list_runs(
        integration=filters.get("integration"), outcome=filters.get("outcome"),
        before=filters.get("before"), limit=RUNS_PER_PAGE)
    names = [i.name for i in runtime(request).config.integrations]
    if filters.get("integration") and filters["integration"] not in names:
        names.append(filters["integration"])
    return show(request, "runs.html", nav="runs", runs=runs, outcomes=OUTCOMES,
                integration_choices=names,
                filters={"integration": filters.get("integration"),
                         "outcome": filters.get("outcome")},
                paged=bool(filters.get("before")),
                next_before=runs[-1].id if len(runs) == RUNS_PER_PAGE else None)


@routes.get(r"/runs/{run_id:[0-9]{1,18}}")
@page
async def run_page(request: web.Request) -> web.Response:
    parse_query(request, {})
    run_id = int(request.match_info["run_id"])
    run = await run_details(request, run_id)
    if run is None:
        raise PageError(404, f"There is no run #{run_id} in the sync log.")
    return show(request, "run.html", nav="runs", run=run,
                live=run["outcome"] in LIVE_OUTCOMES)


# -- synced data ---------------------------------------------------------------------


@routes.get("/integrations/{name}/companies")
@page
async def companies_page(request: web.Request) -> web.Response:
    integration: IntegrationConfig = integration_or_404(request)
    query = parse_query(without_blanks(request), {"q": nonempty,
                                                  "page": int_between(1, 100_000)})
    page_number = query.get("page", 1)
    found = await runtime(request).store.company_page(
        integration.name, text=query.get("q"), limit=COMPANIES_PER_PAGE,
        offset=(page_number - 1) * COMPANIES_PER_PAGE)
    return show(request, "companies.html", nav="companies", integration=integration.name,
                companies=found.companies, counts=found.children, total=found.total,
                q=query.get("q") or "", page_number=page_number, per_page=COMPANIES_PER_PAGE,
                has_more=page_number * COMPANIES_PER_PAGE < found.total)


@routes.get("/integrations/{name}/companies/{psa_id}")
@page
async def company_page_view(request: web.Request) -> web.Response:
    integration: IntegrationConfig = integration_or_404(request)
    parse_query(request, {})
    psa_id = request.match_info["psa_id"]
    detail = None
    if len(psa_id) <= 64:
        detail = await runtime(request).store.company_detail(integration.name, psa_id)
    if detail is None:
        raise PageError(404, f"{integration.name} has no synced company with id {psa_id[:64]!r}.")
    company = {**detail.company, "sites": detail.sites, "contacts": detail.contacts,
               "assets": detail.assets}
    return show(request, "company.html", nav="companies", integration=integration.name,
                company=company)


def _browse(entity: Entity) -> Handler:
    """A searchable, keyset-paged page of one company child (the HTML twin of its listing)."""
    @page
    async def handler(request: web.Request) -> web.Response:
        integration: IntegrationConfig = integration_or_404(request)
        query = parse_query(without_blanks(request), {"q": search_text, "next": decode_cursor})
        found = await runtime(request).store.entity_page(
            integration.name, entity, entity_query(query, limit=RECORDS_PER_PAGE))
        names = await runtime(request).store.company_names(
            integration.name, {r["company_psa_id"] for r in found.rows} - {None})
        cursor = next_cursor(found)
        return show(request, "records.html", nav=entity.value, integration=integration.name,
                    entity=entity.value, rows=found.rows, company_names=names,
                    q=query.get("q") or "", paged="next" in query,
                    next_href=templating.query({"q": query.get("q"), "next": cursor})
                    if cursor else None)
    return handler


for _entity in COMPANY_CHILDREN:
    routes.get(f"/integrations/{{name}}/{_entity.value}")(_browse(_entity))


@routes.get("/integrations/{name}")
@page
async def integration_page(request: web.Request) -> web.Response:
    """Set-up: the custom fields the PSA offers on assets and contacts, which are selected."""
    integration: IntegrationConfig = integration_or_404(request)
    parse_query(request, {})
    found = await runtime(request).store.custom_fields(integration.name)
    selected = {"assets": integration.asset_custom_fields,
                "contacts": integration.contact_custom_fields}
    fields = {entity: custom_field_rows(found.get(entity, {}), chosen)
              for entity, chosen in selected.items()}
    return show(request, "integration.html", nav="setup", integration=integration.name,
                kind=integration.kind, discovered=bool(found), fields=fields,
                current=config_lines(selected),
                every=config_lines({e: [r["name"] for r in rows if r["records"] is not None]
                                    for e, rows in fields.items()}))


def custom_field_rows(found: dict[str, int], chosen: Sequence[str]) -> list[dict[str, Any]]:
    """Each offered field (most used first) and each selected one the PSA lacks."""
    rows = [{"name": name, "records": n, "selected": name in chosen}
            for name, n in sorted(found.items(), key=lambda item: (-item[1], item[0].lower()))]
    return rows + [{"name": name, "records": None, "selected": True}
                   for name in chosen if name not in found]


def config_lines(fields: Mapping[str, Sequence[str]]) -> str:
    """The ``[integrations.custom_fields]`` table that selects ``fields``."""
    return "\n".join(["[integrations.custom_fields]"] + [
        f"{entity} = [{', '.join(json.dumps(name) for name in names)}]"
        for entity, names in fields.items()])


# -- live tickets ----------------------------------------------------------------------


@routes.get("/integrations/{name}/tickets")
@page
async def tickets_page(request: web.Request) -> web.Response:
    integration: IntegrationConfig = integration_or_404(request)
    filtered = without_blanks(request)
    query = ticket_query(filtered)
    filters = {"company": query.company, "board": query.board, "status": query.status,
               "priority": query.priority, "q": query.text}
    context: dict[str, Any] = {
        "nav": "tickets", "integration": integration.name, "kind": integration.kind,
        "filters": filters,
        "choices": ticket_choices(await runtime(request).store.ticket_choices(integration.name)),
        "page_number": query.page, "tickets": [], "has_more": False, "problem": None,
        "rejected": ()}
    try:
        result = await fetch_ticket_page(filtered, query)
    except ApiError as err:
        if err.status == 400:
            raise
        return show(request, "tickets.html", status=err.status,
                    **{**context, "problem": err.message})
    return show(request, "tickets.html",
                **{**context, "tickets": result.tickets, "has_more": result.has_more,
                   "rejected": result.rejected})


@routes.get("/integrations/{name}/tickets/{ticket_id}")
@page
async def ticket_page(request: web.Request) -> web.Response:
    integration: IntegrationConfig = integration_or_404(request)
    parse_query(request, {})
    ticket = await fetch_ticket(request, request.match_info["ticket_id"])
    return show(request, "ticket.html", nav="tickets", integration=integration.name,
                kind=integration.kind, ticket=ticket)

