"""The Syncro connector: its settings and the synced entities' reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from psad.connectors.base import Page, Setting, translated
from psad.connectors.syncro.client import REQUESTS_PER_MINUTE
from psad.connectors.syncro.tickets import SyncroTickets
from psad.connectors.syncro.wire import (
    _COMPANY_STATUSES,
    _LISTS,
    CLOSED_STATUSES,
    _asset,
    _company,
    _contact,
    _name_list,
    _named,
    _site,
    name_id,
)
from psad.errors import PsaBadResponse
from psad.model import Board, Entity, Priority, Record, TicketStatus


class SyncroConnector(SyncroTickets):
    kind = "syncro"
    settings = (
        Setting("api_key", "API token (Syncro: your profile → API Tokens; needs Customers, "
                           "Assets and Tickets list/view rights)", secret=True),
        Setting("website_field", "name of the customer custom field that holds the website "
                                 "(Syncro has no website field)", required=False),
        Setting("requests_per_minute", f"requests per minute psad may send to Syncro from "
                                       f"this IP (default {REQUESTS_PER_MINUTE}, Syncro's "
                                       f"per-IP limit)", required=False, type=int,
                minimum=1, maximum=1_000_000),
    )
    incremental = frozenset[Entity]()

    # -- sync ----------------------------------------------------------------------------

    async def fetch(self, entity: Entity, *, since: datetime | None = None) -> AsyncIterator[Page]:
        if entity is Entity.COMPANY_STATUS:
            yield Page(_COMPANY_STATUSES)
            return
        if entity in _LISTS:
            parse = self._parsers()[entity]
            listing = self._listing(entity)
            async for items in listing:
                yield await translated(entity, items, parse)
            if not listing.stable:
                yield Page([], listing_changed=True)
            return
        yield await self._setup_page(entity)

    async def list_ids(self, entity: Entity) -> AsyncIterator[Sequence[str]]:
        """Syncro has no id-only listing: the same pages as a fetch, ids kept."""
        if entity in _LISTS:
            async for items in self._listing(entity):
                yield [str(i["id"]) for i in items if isinstance(i, dict) and "id" in i]
            return
        async for page in self.fetch(entity):
            yield [r.psa_id for r in page.records] + [r.psa_id for r in page.rejected if r.psa_id]

    def _parsers(self) -> dict[Entity, Callable[[Mapping[str, Any]], Record]]:
        cfg = self.integration
        return {
            Entity.COMPANY: lambda d: _company(d, self.website_field),
            Entity.SITE: _site,
            Entity.ASSET: lambda d: _asset(d, cfg.asset_custom_fields),
            Entity.CONTACT: lambda d: _contact(d, cfg.contact_custom_fields),
        }

    async def _setup_page(self, entity: Entity) -> Page:
        """Boards, priorities or ticket statuses: one settings call, names only."""
        if entity is Entity.TICKET_STATUS:
            body = await self._settings("tickets/settings")
            names = _name_list(body, "ticket_status_list", "tickets/settings", self.name)
            return _named(entity, names, lambda name, n: TicketStatus(
                psa_id=name_id(name), name=name, closed=name in CLOSED_STATUSES, sort_order=n))
        body = await self._settings("settings")
        ticket = body.get("ticket")
        if not isinstance(ticket, dict):
            raise PsaBadResponse("GET settings: no 'ticket' settings", integration=self.name)
        if entity is Entity.BOARD:
            names = _name_list(ticket, "problem_types", "settings", self.name)
            return _named(entity, names, lambda name, n: Board(psa_id=name_id(name), name=name))
        names = _name_list(ticket, "priorities", "settings", self.name)
        return _named(entity, names, lambda name, n: Priority(
            psa_id=name_id(name), name=name, sort_order=n))
