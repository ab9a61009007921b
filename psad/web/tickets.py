"""The live ticket proxy: the PSA is asked on every request; nothing is stored.

Identical requests in flight at the same moment share one upstream call,
and ticket calls go ahead of a running sync's queued requests.
The PSA is reached only through the integration's connector, so callers
choose filters, never hosts or paths; every id and filter is validated first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web

from psad.errors import PsaAuthError, PsaError, PsaNotFound, PsaTimeout, PsaUnavailable
from psad.http import RequestPriority, with_priority
from psad.model import Ticket, TicketPage, TicketQuery
from psad.web.api import int_between, integration_or_404, parse_query, runtime
from psad.web.errors import ApiError

routes = web.RouteTableDef()
T = TypeVar("T")
MAX_ID = 64


class ImpossibleId(Exception):
    """The connector says an id cannot exist in its PSA (wrong shape for that vendor)."""


class Coalescer:
    """One upstream call per key at a time; concurrent callers of a key share its result.

    The call runs in its own task, so a caller that goes away does not cancel
    it for the others.
    """

    def __init__(self) -> None:
        self._inflight: dict[Hashable, asyncio.Task[Any]] = {}
        self.upstream_calls = 0

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(call())
            self._inflight[key] = task
            self.upstream_calls += 1
            task.add_done_callback(lambda done: self._done(key, done))
        result: T = await asyncio.shield(task)
        return result

    def _done(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is not reported


TICKET_FIELDS = tuple(f.name for f in dataclasses.fields(Ticket))


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    out = {name: getattr(ticket, name) for name in TICKET_FIELDS}
    out["id"] = out.pop("psa_id")
    out["company_id"] = out.pop("company_psa_id")
    for key in ("created_at", "updated_at"):
        if isinstance(out[key], datetime):
            out[key] = out[key].isoformat()
    return out


def _psa_id(name: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if (not value or len(value) > MAX_ID or not value.isascii()
                or not all(c.isalnum() or c in "-_" for c in value)):
            raise ValueError(f"{name} must be a PSA id (letters, digits, '-' or '_')")
        return value
    return parse


def _text(value: str) -> str | None:
    """Search text with control characters dropped; blank means no text filter."""
    return "".join(c for c in value if ord(c) >= 32 and c != "\x7f").strip() or None


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
    except ValueError as err:
        outcome = "not_found"
        raise ImpossibleId(str(err)) from None
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
        "company": _psa_id("company"), "board": _psa_id("board"), "status": _psa_id("status"),
        "priority": _psa_id("priority"), "q": _text, "page": int_between(1, 10_000),
        "page_size": int_between(1, 100)})
    return TicketQuery(company=query.get("company"), board=query.get("board"),
                       status=query.get("status"), priority=query.get("priority"),
                       text=query.get("q"), page=query.get("page", 1),
                       page_size=query.get("page_size", 25))


async def fetch_ticket_page(request: web.Request, query: TicketQuery) -> TicketPage:
    """A page of tickets; a filter id this PSA cannot have simply matches nothing."""
    try:
        return await _proxied(request, query, lambda c: c.list_tickets(query))
    except ImpossibleId:
        return TicketPage(tickets=(), page=query.page, page_size=query.page_size,
                          has_more=False, total=0)


async def fetch_ticket(request: web.Request, ticket_id: str) -> Ticket:
    """One ticket; an id this PSA cannot have is a 404 like any unknown ticket."""
    try:
        _psa_id("ticket id")(ticket_id)
    except ValueError as err:
        raise ApiError(400, str(err)) from None
    try:
        return await _proxied(request, ("ticket", ticket_id), lambda c: c.get_ticket(ticket_id))
    except ImpossibleId:
        raise ApiError(404, "the PSA has no such ticket") from None


@routes.get("/api/integrations/{name}/tickets")
async def list_tickets(request: web.Request) -> web.Response:
    query = ticket_query(request)
    page = await fetch_ticket_page(request, query)
    return web.json_response({
        "tickets": [ticket_json(t) for t in page.tickets], "page": page.page,
        "page_size": page.page_size, "has_more": page.has_more, "total": page.total})


@routes.get("/api/integrations/{name}/tickets/{ticket_id}")
async def get_ticket(request: web.Request) -> web.Response:
    parse_query(request, {})
    ticket = await fetch_ticket(request, request.match_info["ticket_id"])
    return web.json_response(ticket_json(ticket))
