"""The live ticket proxy: the PSA is asked on every request; nothing is stored.

Identical requests in flight at the same moment share one upstream call,
and ticket calls go ahead of a running sync's queued requests.
The PSA is reached only through the integration's connector, so callers
choose filters, never hosts or paths; every id and filter is validated first.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web

from psad.errors import (PsaAuthError, PsaError, PsaInvalidId, PsaNotFound, PsaTimeout,
                         PsaUnavailable)
from psad.http import RequestPriority, with_priority
from psad.model import RejectedTicket, Ticket, TicketPage, TicketQuery
from psad.web.api import (int_between, integration_or_404, parse_query, psa_id_param, runtime,
                          search_text)
from psad.web.errors import ApiError

routes = web.RouteTableDef()
log = logging.getLogger("psad.web.tickets")
T = TypeVar("T")


TICKET_FIELDS = tuple(f.name for f in dataclasses.fields(Ticket))


def rejected_json(rejected: RejectedTicket) -> dict[str, Any]:
    """A listed ticket the PSA sent malformed: skipped, and said so."""
    return {"id": rejected.psa_id, "message": rejected.reason}


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    out = {name: getattr(ticket, name) for name in TICKET_FIELDS}
    out["id"] = out.pop("psa_id")
    out["company_id"] = out.pop("company_psa_id")
    for key in ("created_at", "updated_at"):
        if isinstance(out[key], datetime):
            out[key] = out[key].isoformat()
    return out


async def _proxied(request: web.Request, key: Hashable,
                   call: Callable[[Any], Awaitable[T]]) -> T:
    integration = integration_or_404(request)
    rt = runtime(request)
    metrics = rt.metrics
    started = time.perf_counter()
    outcome = "ok"
    try:
        connector = await rt.connector(integration.name)
        return await rt.ticket_coalescer.run(
            (integration.name, key), lambda: with_priority(RequestPriority.LIVE, call(connector)))
    except PsaInvalidId:
        outcome = "not_found"
        raise
    except PsaNotFound:
        outcome = "not_found"
        raise ApiError(404, "the PSA has no such ticket") from None
    except PsaTimeout:
        outcome = "timeout"
        raise ApiError(504, f"{integration.kind} did not answer in time") from None
    except PsaAuthError:
        outcome = "upstream_error"
        raise ApiError(502, f"{integration.kind} refused psad's credentials") from None
    except PsaUnavailable as err:
        outcome = "upstream_error"
        raise ApiError(502, f"{integration.kind} is unavailable: {type(err).__name__}") from None
    except PsaError:
        outcome = "upstream_error"
        raise ApiError(502, f"{integration.kind} answered with an error") from None
    finally:
        metrics.ticket_requests.labels(integration.name, outcome).inc()
        metrics.ticket_latency.labels(integration.name).observe(time.perf_counter() - started)


def ticket_query(request: web.Request) -> TicketQuery:
    query = parse_query(request, {
        "company": psa_id_param("company"), "board": psa_id_param("board"), "status": psa_id_param("status"),
        "priority": psa_id_param("priority"), "q": search_text, "page": int_between(1, 10_000),
        "page_size": int_between(1, 100)})
    return TicketQuery(company=query.get("company"), board=query.get("board"),
                       status=query.get("status"), priority=query.get("priority"),
                       text=query.get("q"), page=query.get("page", 1),
                       page_size=query.get("page_size", 25))


async def fetch_ticket_page(request: web.Request, query: TicketQuery) -> TicketPage:
    """A page of tickets; a filter id this PSA cannot have simply matches nothing.

    Tickets the PSA sent malformed are left out of the page and listed in its
    ``rejected`` (and counted), so a bad record never reads as "no tickets".
    """
    try:
        page: TicketPage = await _proxied(request, query, lambda c: c.list_tickets(query))
    except PsaInvalidId:
        return TicketPage(tickets=(), page=query.page, page_size=query.page_size,
                          has_more=False, total=0)
    if page.rejected:
        name = request.match_info["name"]
        runtime(request).metrics.ticket_rejected.labels(name).inc(len(page.rejected))
        log.warning("integration=%s %d listed ticket(s) skipped as malformed: %s", name,
                    len(page.rejected), "; ".join(f"{r.psa_id or '?'}: {r.reason}"
                                                  for r in page.rejected))
    return page


async def fetch_ticket(request: web.Request, ticket_id: str) -> Ticket:
    """One ticket; an id this PSA cannot have is a 404 like any unknown ticket."""
    try:
        psa_id_param("ticket id")(ticket_id)
    except ValueError as err:
        raise ApiError(400, str(err)) from None
    try:
        return await _proxied(request, ("ticket", ticket_id), lambda c: c.get_ticket(ticket_id))
    except PsaInvalidId:
        raise ApiError(404, "the PSA has no such ticket") from None


@routes.get("/api/integrations/{name}/tickets")
async def list_tickets(request: web.Request) -> web.Response:
    query = ticket_query(request)
    page = await fetch_ticket_page(request, query)
    return web.json_response({
        "tickets": [ticket_json(t) for t in page.tickets], "page": page.page,
        "page_size": page.page_size, "has_more": page.has_more, "total": page.total,
        "errors": [rejected_json(r) for r in page.rejected]})


@routes.get("/api/integrations/{name}/tickets/{ticket_id}")
async def get_ticket(request: web.Request) -> web.Response:
    parse_query(request, {})
    ticket = await fetch_ticket(request, request.match_info["ticket_id"])
    return web.json_response(ticket_json(ticket))
