"""ConnectWise live tickets: conditions, pages, single tickets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from psad.connectors import wire
from psad.connectors.base import translate_tickets
from psad.connectors.connectwise.bundles import ConnectWiseBundles
from psad.connectors.connectwise.wire import _quote
from psad.connectors.wire import BadRecord
from psad.errors import PsaBadResponse, PsaInvalidId
from psad.model import Ticket, TicketPage, TicketQuery


class ConnectWiseTickets(ConnectWiseBundles):
    """The live ticket list and single tickets."""

    def ticket_link(self, ticket_id: str) -> str:
        """The ticket in ConnectWise's own UI (the API host without its ``api-`` prefix)."""
        parts = urlsplit(self.integration.base_url)
        host = parts.netloc.removeprefix("api-")
        codebase = parts.path.split("apis/3.0")[0]
        return urlunsplit((parts.scheme, host, f"{codebase}ConnectWise.aspx",
                           f"locale=en_US&routeTo=ServiceFV&recid={ticket_id}", ""))

    async def list_tickets(self, query: TicketQuery) -> TicketPage:
        conditions = []
        for key, value in (("company/id", query.company), ("board/id", query.board),
                           ("status/id", query.status), ("priority/id", query.priority)):
            if value is not None:
                if not value.isdigit():
                    raise PsaInvalidId(f"{key.split('/')[0]} must be a numeric id",
                                       integration=self.name)
                conditions.append(f"{key}={value}")
        if query.text:
            conditions.append(f"summary contains {_quote(query.text)}")
        params: dict[str, Any] = {"page": query.page, "pageSize": query.page_size,
                                  "orderBy": "id desc"}
        if conditions:
            params["conditions"] = " and ".join(conditions)
        response = await self.client.get(self._url("service/tickets"), params=params,
                                         auth=self.auth)
        if not isinstance(response.body, list):
            raise PsaBadResponse("GET service/tickets: expected a JSON array",
                                 integration=self.name)
        tickets, rejected = translate_tickets(response.body, self._ticket)
        link = response.headers.get("Link", "")
        has_more = 'rel="next"' in link if link else len(response.body) == query.page_size
        return TicketPage(tickets=tickets, page=query.page, page_size=query.page_size,
                          has_more=has_more, rejected=rejected)

    async def get_ticket(self, ticket_id: str) -> Ticket:
        if not ticket_id.isdigit():
            raise PsaInvalidId("ticket id must be numeric", integration=self.name)
        body = await self._get(f"service/tickets/{ticket_id}")
        try:
            return self._ticket(wire.obj(body, "ticket"))
        except BadRecord as err:
            raise PsaBadResponse(f"GET service/tickets/{ticket_id}: {err}",
                                 integration=self.name) from None

    def _ticket(self, d: Mapping[str, Any]) -> Ticket:
        ticket_id = wire.psa_id(d)
        info = wire.ref(d, "_info") or {}
        contact = wire.ref(d, "contact")
        return Ticket(
            psa_id=ticket_id,
            summary=wire.opt_text(d, "summary") or "",
            company_psa_id=wire.ref_id(d, "company"),
            company_name=wire.ref_text(d, "company"),
            board=wire.ref_text(d, "board"),
            status=wire.ref_text(d, "status"),
            priority=wire.ref_text(d, "priority"),
            contact=wire.opt_text(contact, "name") if contact else wire.opt_text(d, "contactName"),
            created_at=wire.parse_datetime(info.get("dateEntered"), "_info.dateEntered"),
            updated_at=wire.parse_datetime(info.get("lastUpdated"), "_info.lastUpdated"),
            closed=wire.flag(d, "closedFlag"),
            url=self.ticket_link(ticket_id),
        )
