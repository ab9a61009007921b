"""HaloPSA live tickets: filters, pages, single tickets with status and priority names."""

from __future__ import annotations

import time
from typing import Any

from psad.connectors import wire
from psad.connectors.base import translate_tickets
from psad.connectors.halo.client import HaloApi
from psad.connectors.halo.wire import (
    LOOKUP_TTL,
    MAX_PAGE_SIZE,
    TICKETS,
    _envelope,
    _Lookups,
    _priorities,
    _ticket,
)
from psad.connectors.wire import BadRecord
from psad.errors import PsaBadResponse, PsaInvalidId, PsaNotFound
from psad.model import Priority, Ticket, TicketPage, TicketQuery, TicketStatus


class HaloTickets(HaloApi):
    """The live ticket list and single tickets."""

    # -- live tickets ------------------------------------------------------------------

    def ticket_link(self, ticket_id: str) -> str:
        return f"{self.root}/tickets?id={ticket_id}"

    async def list_tickets(self, query: TicketQuery) -> TicketPage:
        if query.page < 1:
            raise ValueError("page must be 1 or more")
        if not 1 <= query.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        params = {"pageinate": "true", "page_size": str(query.page_size),
                  "page_no": str(query.page), "order": "id", "orderdesc": "true",
                  "includestatus": "true"}
        for param, label, value in (("client_id", "company", query.company),
                                    ("team", "board", query.board),
                                    ("status_id", "status", query.status),
                                    ("priority", "priority", query.priority)):
            if value is not None:
                if not value.isdigit():
                    raise PsaInvalidId(f"{label} must be a numeric HaloPSA id",
                                       integration=self.name)
                params[param] = value
        if query.text:
            params["search"] = query.text
        items, total = _envelope(await self._get(TICKETS.path, params), TICKETS, self.name)
        if query.page > 1 and total is not None and (query.page - 1) * query.page_size >= total:
            items = []  # past the end: whatever Halo answers there, no tickets
        lookups = await self._ticket_lookups()
        tickets, rejected = translate_tickets(
            items, lambda d: _ticket(d, lookups, self.ticket_link))
        has_more = (query.page * query.page_size < total if total is not None
                    else len(items) == query.page_size)
        return TicketPage(tickets=tickets, page=query.page, page_size=query.page_size,
                          has_more=has_more, total=total, rejected=rejected)

    async def get_ticket(self, ticket_id: str) -> Ticket:
        if not ticket_id.isdigit():
            raise PsaInvalidId("ticket id must be numeric", integration=self.name)
        body = await self._get(f"{TICKETS.path}/{ticket_id}")
        if not isinstance(body, dict) or not body.get("id"):
            raise PsaNotFound(f"HaloPSA has no ticket {ticket_id}", integration=self.name)
        return self._ticket(body, await self._ticket_lookups())

    async def _ticket_lookups(self) -> _Lookups:
        now = time.monotonic()
        if self._lookups is None or now - self._lookups.loaded_at > LOOKUP_TTL:
            statuses = await self._statuses()
            priorities = _priorities(await self._bare("Priority"))
            self._lookups = _Lookups(
                statuses={s.psa_id: (s.name, s.closed) for s in statuses.records
                          if isinstance(s, TicketStatus)},
                priorities={p.psa_id: p.name for p in priorities.records
                            if isinstance(p, Priority)},
                loaded_at=now)
        return self._lookups

    def _ticket(self, item: Any, lookups: _Lookups) -> Ticket:
        try:
            return _ticket(wire.obj(item, "ticket"), lookups, self.ticket_link)
        except BadRecord as err:
            raise PsaBadResponse(f"HaloPSA sent a ticket psad cannot read: {err}",
                                 integration=self.name) from None
