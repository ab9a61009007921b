"""Syncro live tickets: filters, pages scanned client-side, single tickets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from psad.connectors import wire
from psad.connectors.base import translate_tickets
from psad.connectors.syncro.client import SyncroApi
from psad.connectors.syncro.wire import CLOSED_STATUSES, MAX_SCAN_PAGES, _ticket_filter, id_name
from psad.connectors.wire import BadRecord
from psad.errors import PsaBadResponse, PsaInvalidId
from psad.model import Ticket, TicketPage, TicketQuery


class SyncroTickets(SyncroApi):
    """The live ticket list and single tickets."""

    # -- live tickets --------------------------------------------------------------------

    def ticket_link(self, ticket_id: str) -> str:
        """The ticket in Syncro's web app (the API base without ``/api/v1``)."""
        parts = urlsplit(self.integration.base_url)
        root = parts.path.split("/api/v1")[0].rstrip("/")
        return urlunsplit((parts.scheme, parts.netloc, f"{root}/tickets/{ticket_id}", "", ""))

    async def list_tickets(self, query: TicketQuery) -> TicketPage:
        params: dict[str, Any] = {}
        if query.company is not None:
            if not query.company.isdigit():
                raise PsaInvalidId("company must be a numeric Syncro customer id",
                                   integration=self.name)
            params["customer_id"] = query.company
        if query.status is not None:
            params["status"] = id_name(query.status)
        if query.text:
            params["query"] = query.text
        board = id_name(query.board) if query.board is not None else None
        priority = id_name(query.priority) if query.priority is not None else None
        if query.page < 1 or query.page_size < 1:
            raise ValueError("page and page_size must be positive")
        items, has_more = await self._ticket_window(
            params, (query.page - 1) * query.page_size, query.page_size,
            _ticket_filter(board, priority))
        tickets, rejected = translate_tickets(items, self._ticket)
        return TicketPage(tickets=tickets, page=query.page, page_size=query.page_size,
                          has_more=has_more, rejected=rejected)

    async def _ticket_window(self, params: Mapping[str, Any], start: int, size: int,
                             keep: Callable[[Mapping[str, Any]], bool] | None, *,
                             relearned: bool = False) -> tuple[list[Mapping[str, Any]], bool]:
        """Wire tickets ``start``… of the (filtered) list, and whether more follow.

        Without a client-side filter this jumps to the upstream page holding
        ``start`` once Syncro's page size is known; with one it scans from the
        first page, at most :data:`MAX_SCAN_PAGES` pages.
        """
        per_page = self._ticket_page_size if keep is None else None
        first = start // per_page + 1 if per_page else 1
        skip = start - (first - 1) * per_page if per_page else start
        out: list[Mapping[str, Any]] = []  # a malformed ticket keeps its slot
        scanned = 0
        async for page, items, total_pages in self._pages("tickets", "tickets", params,
                                                          first=first):
            last = total_pages is None or page >= total_pages
            if not last and self._ticket_page_size != len(items):
                self._ticket_page_size = len(items)
                if per_page is not None and not relearned:
                    return await self._ticket_window(params, start, size, keep, relearned=True)
            for item in items:
                if not isinstance(item, dict) or (keep is not None and not keep(item)):
                    continue
                if skip:
                    skip -= 1
                    continue
                if len(out) == size:
                    return out, True
                out.append(item)
            scanned += 1
            if keep is not None and scanned >= MAX_SCAN_PAGES and not last:
                return out, True
        return out, False

    async def get_ticket(self, ticket_id: str) -> Ticket:
        if not ticket_id.isdigit():
            raise PsaInvalidId("ticket id must be numeric", integration=self.name)
        body = await self._get(f"tickets/{ticket_id}")
        record = body.get("ticket", body) if isinstance(body, dict) else body
        try:
            return self._ticket(wire.obj(record, "ticket"))
        except BadRecord as err:
            raise PsaBadResponse(f"GET tickets/{ticket_id}: {err}",
                                 integration=self.name) from None

    def _ticket(self, d: Mapping[str, Any]) -> Ticket:
        ticket_id = wire.psa_id(d)
        status = wire.opt_text(d, "status")
        contact = wire.ref(d, "contact")
        return Ticket(
            psa_id=ticket_id,
            summary=wire.opt_text(d, "subject") or "",
            company_psa_id=wire.opt_id(d, "customer_id"),
            company_name=wire.opt_text(d, "customer_business_then_name"),
            board=wire.opt_text(d, "problem_type"),
            status=status,
            priority=wire.opt_text(d, "priority"),
            contact=wire.opt_text(d, "contact_fullname")
            or (wire.opt_text(contact, "name") if contact else None),
            created_at=wire.parse_datetime(d.get("created_at"), "created_at"),
            updated_at=wire.parse_datetime(d.get("updated_at"), "updated_at"),
            closed=status in CLOSED_STATUSES,
            url=self.ticket_link(ticket_id),
        )
