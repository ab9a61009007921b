"""Kaseya BMS live tickets: filters, pages, single tickets with their names."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from psad.connectors import wire
from psad.connectors.base import translate_tickets
from psad.connectors.kaseya_bms.client import KaseyaBmsApi
from psad.connectors.kaseya_bms.wire import LOOKUP_TTL, MAX_TICKET_PAGE_SIZE, camel, records
from psad.connectors.wire import BadRecord
from psad.errors import PsaBadResponse, PsaInvalidId, PsaNotFound
from psad.model import Ticket, TicketPage, TicketQuery


class KaseyaBmsTickets(KaseyaBmsApi):
    """The live ticket list and single tickets."""

    def ticket_link(self, ticket_id: str) -> str:
        return f"{self.ui_root}/MSP/TicketEdit.aspx?ID={ticket_id}"

    async def _names(self, kind: str) -> dict[str, str]:
        cached = self._lookups.get(kind)
        if cached is not None and time.monotonic() - cached[0] < LOOKUP_TTL:
            return cached[1]
        names = {str(d["id"]): str(d["name"]) for d in await self._lookup(kind)
                 if isinstance(d, dict) and d.get("id") is not None and d.get("name")}
        self._lookups[kind] = (time.monotonic(), names)
        return names

    async def _name_of(self, kind: str, label: str, psa_id: str) -> str:
        if not psa_id.isdigit():
            raise PsaInvalidId(f"{label} must be a numeric BMS id", integration=self.name)
        name = (await self._names(kind)).get(psa_id)
        if name is None:
            raise PsaInvalidId(f"{label} {psa_id} does not exist in BMS", integration=self.name)
        return name

    async def list_tickets(self, query: TicketQuery) -> TicketPage:
        if query.page < 1:
            raise ValueError("page must be 1 or more")
        if not 1 <= query.page_size <= MAX_TICKET_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_TICKET_PAGE_SIZE}")
        filters: dict[str, str] = {}
        if query.company is not None:
            if not query.company.isdigit():
                raise PsaInvalidId("company must be a numeric BMS id", integration=self.name)
            filters["AccountIds"] = query.company
        for key, kind, label, value in (("QueueNames", "queues", "board", query.board),
                                        ("StatusNames", "statuses", "status", query.status),
                                        ("PriorityNames", "priorities", "priority",
                                         query.priority)):
            if value is not None:
                filters[key] = await self._name_of(kind, label, value)
        if query.text and query.text.strip():
            filters["Title"] = query.text.strip()
        envelope = await self._call("POST", "servicedesk/tickets/search", body={
            "PageSize": query.page_size, "PageNumber": query.page, "Filter": filters})
        items = records(envelope.result, "POST servicedesk/tickets/search", self.name)
        tickets, rejected = translate_tickets(items, self._parse_ticket)
        has_more = (query.page * query.page_size < envelope.total if envelope.total is not None
                    else len(items) == query.page_size)
        return TicketPage(tickets=tickets, page=query.page, page_size=query.page_size,
                          has_more=has_more, total=envelope.total, rejected=rejected)

    async def get_ticket(self, ticket_id: str) -> Ticket:
        if not ticket_id.isdigit():
            raise PsaInvalidId("ticket id must be numeric", integration=self.name)
        envelope = await self._call("GET", f"servicedesk/tickets/{ticket_id}")
        if envelope.result is None:
            raise PsaNotFound(f"ticket {ticket_id} not found", integration=self.name)
        return self._ticket(camel(envelope.result))

    def _ticket(self, item: Any) -> Ticket:
        try:
            return self._parse_ticket(wire.obj(item, "ticket"))
        except BadRecord as err:
            raise PsaBadResponse(f"malformed ticket from BMS: {err}",
                                 integration=self.name) from None

    def _parse_ticket(self, d: Mapping[str, Any]) -> Ticket:
        ticket_id = wire.psa_id(d)
        return Ticket(
            psa_id=ticket_id,
            summary=wire.opt_text(d, "title") or "",
            company_psa_id=wire.opt_id(d, "accountId"),
            company_name=wire.opt_text(d, "accountName"),
            board=wire.opt_text(d, "queueName"),
            status=wire.opt_text(d, "statusName"),
            priority=wire.opt_text(d, "priorityName"),
            contact=wire.opt_text(d, "contactName"),
            created_at=wire.parse_datetime(d.get("createdOn") or d.get("openDate"),
                                           "createdOn"),
            updated_at=wire.parse_datetime(d.get("modifiedOn") or d.get("lastActivityUpdate"),
                                           "modifiedOn"),
            closed=d.get("completedDate") not in (None, ""),
            url=self.ticket_link(ticket_id),
        )
