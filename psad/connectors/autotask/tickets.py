"""Autotask live tickets: filters, pages reached by id, and tickets with their names."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from psad.connectors import wire
from psad.connectors.autotask.lists import AutotaskLists
from psad.connectors.autotask.wire import (
    COMPLETE_STATUS,
    MATCH_ALL,
    MAX_RECORDS,
    Filter,
    Json,
    _labels,
    _name,
    _person,
    _picklist,
    ref,
)
from psad.connectors.base import translate_tickets
from psad.errors import PsaBadResponse, PsaInvalidId, PsaNotFound
from psad.model import RejectedTicket, Ticket, TicketPage, TicketQuery


class AutotaskTickets(AutotaskLists):
    """The live ticket list and single tickets."""

    # -- live tickets

    def ticket_link(self, ticket_id: str) -> str | None:
        if self.zone is None or self.zone.web is None:
            return None
        return (f"{self.zone.web}Autotask/AutotaskExtend/ExecuteCommand.aspx"
                f"?Code=OpenTicketDetail&TicketID={ticket_id}")

    @staticmethod
    def ticket_filters(query: TicketQuery) -> list[Filter]:
        """The Autotask filter for ``query``; raises PsaInvalidId for an id of the wrong shape."""
        filters: list[Filter] = []
        for label, field, value in (("company", "companyID", query.company),
                                    ("board", "queueID", query.board),
                                    ("status", "status", query.status),
                                    ("priority", "priority", query.priority)):
            if value is None:
                continue
            if not value.isdigit():
                raise PsaInvalidId(f"{label} must be a numeric Autotask id")
            filters.append({"op": "eq", "field": field, "value": int(value)})
        if query.text is not None and query.text.strip():
            text = query.text.strip()
            filters.append({"op": "or", "items": [
                {"op": "contains", "field": "title", "value": text},
                {"op": "eq", "field": "ticketNumber", "value": text}]})
        return filters or [MATCH_ALL]

    async def list_tickets(self, query: TicketQuery) -> TicketPage:
        if query.page < 1:
            raise ValueError("page must be 1 or more")
        if not 1 <= query.page_size <= MAX_RECORDS:
            raise ValueError(f"page_size must be between 1 and {MAX_RECORDS}")
        filters = self.ticket_filters(query)
        reached, start_after = await self._skip("Tickets", filters,
                                                (query.page - 1) * query.page_size)
        if not reached:
            return TicketPage((), query.page, query.page_size, has_more=False)
        window = filters if start_after is None else [
            *filters, {"op": "gt", "field": "id", "value": start_after}]
        items, _ = await self._query("Tickets", window, size=min(query.page_size + 1, MAX_RECORDS))
        has_more = len(items) > query.page_size
        tickets, rejected = await self._tickets(items[:query.page_size])
        if query.page_size == MAX_RECORDS and not has_more:
            has_more = len(items) == MAX_RECORDS
        return TicketPage(tickets, query.page, query.page_size, has_more=has_more,
                          rejected=rejected)

    async def _skip(self, entity: str, filters: list[Filter],
                    count: int) -> tuple[bool, int | None]:
        """Skip ``count`` matches with id-only queries (Autotask has no offset).

        Returns whether there were that many, and the id the wanted window starts after.
        """
        after: int | None = None
        while count > 0:
            window = filters if after is None else [
                *filters, {"op": "gt", "field": "id", "value": after}]
            size = min(count, MAX_RECORDS)
            items, _ = await self._query(entity, window, size=size, include=("id",))
            ids = [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), int)]
            if len(ids) < size:
                return False, None
            after = max(ids)
            count -= len(ids)
        return True, after

    async def get_ticket(self, ticket_id: str) -> Ticket:
        if not ticket_id.isdigit():
            raise PsaInvalidId("ticket id must be numeric", integration=self.name)
        body = await self._call("GET", f"Tickets/{ticket_id}")
        item = body.get("item") if isinstance(body, dict) else None
        if item is None:
            raise PsaNotFound(f"Autotask has no ticket {ticket_id}", integration=self.name)
        tickets, rejected = await self._tickets([item])
        if rejected:
            raise PsaBadResponse(f"GET Tickets/{ticket_id}: {rejected[0].reason}",
                                 integration=self.name)
        return tickets[0]

    async def _tickets(self, items: Sequence[Any]
                       ) -> tuple[tuple[Ticket, ...], tuple[RejectedTicket, ...]]:
        records = [i for i in items if isinstance(i, dict)]
        fields = await self.picklists("Tickets")
        companies = {c for r in records if (c := ref(r, "companyID")) is not None}
        contacts = {c for r in records if (c := ref(r, "contactID")) is not None}
        company_names, contact_names = await asyncio.gather(
            self._names_for("Companies", companies, ("companyName",),
                            lambda c: wire.opt_text(c, "companyName")),
            self._names_for("Contacts", contacts, ("firstName", "lastName"), _person))
        labels = {name: _labels(_picklist(fields, name))
                  for name in ("queueID", "status", "priority")}
        return translate_tickets(
            items, lambda r: self._ticket(r, labels, company_names, contact_names))

    def _ticket(self, d: Json, labels: Mapping[str, Mapping[str, str]],
                companies: Mapping[str, str], contacts: Mapping[str, str]) -> Ticket:
        ticket_id = wire.psa_id(d)
        status = ref(d, "status")
        status_label = labels["status"].get(status) if status else None
        company = ref(d, "companyID")
        contact = ref(d, "contactID")
        return Ticket(
            psa_id=ticket_id,
            summary=wire.opt_text(d, "title") or "",
            company_psa_id=company,
            company_name=companies.get(company) if company is not None else None,
            board=_name(labels["queueID"], d, "queueID"),
            status=status_label,
            priority=_name(labels["priority"], d, "priority"),
            contact=contacts.get(contact) if contact is not None else None,
            created_at=wire.parse_datetime(d.get("createDate"), "createDate"),
            updated_at=wire.parse_datetime(d.get("lastActivityDate"), "lastActivityDate"),
            closed=d.get("completedDate") not in (None, "") or status == COMPLETE_STATUS
            or (status_label or "").casefold() in self.closed_labels,
            url=self.ticket_link(ticket_id),
        )
