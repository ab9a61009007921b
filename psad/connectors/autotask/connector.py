"""The Autotask connector: its settings and the synced entities' reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

from psad.connectors import wire
from psad.connectors.autotask.tickets import AutotaskTickets
from psad.connectors.autotask.wire import (
    _CHANGED,
    _ENTITIES,
    _TICKET_PICKLISTS,
    ACTIVE,
    INACTIVE,
    MATCH_ALL,
    Filter,
    Json,
    Lookups,
    _asset,
    _board,
    _company,
    _contact,
    _priority,
    _site,
    _ticket_status,
    at_timestamp,
)
from psad.connectors.base import Page, Setting, translate_page, translated
from psad.model import CompanyStatus, Entity, Record
from psad.progress import report_total


class AutotaskConnector(AutotaskTickets):
    kind = "autotask"
    settings = (
        Setting("username", "the API user's user name (an e-mail address)"),
        Setting("secret", "the API user's secret", secret=True),
        Setting("integration_code", "the API tracking identifier (ApiIntegrationCode) of the "
                "API user", secret=True),
        Setting("impersonation_resource_id", "a resource id to act as (ImpersonationResourceId)",
                required=False),
        Setting("purchase_date_udf", "name of the configuration-item UDF holding the purchase "
                "date (Autotask has no purchase date field)", required=False),
        Setting("closed_statuses", "comma-separated ticket status labels that count as closed "
                "besides Complete", required=False),
        Setting("zone_hosts", "comma-separated hosts the zone lookup may send psad to, instead "
                "of https://webservices*.autotask.net (``http://host`` allows plain http; for "
                "the simulator or a proxy)", required=False),
    )
    incremental = frozenset(_CHANGED)

    # -- sync

    def changed_filter(self, entity: Entity, since: datetime) -> list[Filter]:
        stamp = at_timestamp(since)
        terms: list[Filter] = [{"op": "gt", "field": f, "value": stamp} for f in _CHANGED[entity]]
        return terms if len(terms) == 1 else [{"op": "or", "items": terms}]

    async def fetch(self, entity: Entity, *, since: datetime | None = None) -> AsyncIterator[Page]:
        if entity is Entity.COMPANY_STATUS:
            yield Page([CompanyStatus(psa_id="active", name=ACTIVE, is_default=True),
                        CompanyStatus(psa_id="inactive", name=INACTIVE, is_default=False)])
            return
        if entity in _TICKET_PICKLISTS:
            fields = await self.picklists("Tickets", fresh=True)
            yield translate_page(entity, fields.get(_TICKET_PICKLISTS[entity], []),
                                 self._picklist_parser(entity), id_keys=("id", "value"))
            return
        name = _ENTITIES[entity]
        filters = (self.changed_filter(entity, since)
                   if since is not None and entity in self.incremental else [MATCH_ALL])
        loading = asyncio.ensure_future(self._lookups(entity))  # alongside the first page
        try:
            async for items in self._pages(name, filters, count_first=True,
                                           on_total=report_total):
                lookups = await loading
                if entity is Entity.ASSET:
                    await self._add_products(items, lookups)
                yield await translated(entity, items, self._parser(entity, lookups),
                                       id_keys=("id", "value"))
        finally:
            loading.cancel()
            await asyncio.gather(loading, return_exceptions=True)

    async def _add_products(self, items: Sequence[Any], lookups: Lookups) -> None:
        known = lookups.products
        assert isinstance(known, dict)
        ids = {str(i["productID"]) for i in items if isinstance(i, dict)
               and isinstance(i.get("productID"), int) and str(i["productID"]) not in known}
        if ids:
            known.update(await self._names_for(
                "Products", ids, ("manufacturerName",),
                lambda p: wire.opt_text(p, "manufacturerName")))

    async def count(self, entity: Entity) -> int | None:
        """One ``query/count`` over everything ``list_ids`` would list."""
        if entity not in self.incremental or entity not in _ENTITIES:
            return None
        return await self._count(_ENTITIES[entity], [MATCH_ALL])

    async def list_ids(self, entity: Entity) -> AsyncIterator[Sequence[str]]:
        if entity in _ENTITIES:
            async for items in self._pages(_ENTITIES[entity], [MATCH_ALL], include=("id",),
                                           count_first=True):
                yield [str(i["id"]) for i in items if isinstance(i, dict) and "id" in i]
            return
        async for page in self.fetch(entity):
            yield [r.psa_id for r in page.records] + [r.psa_id for r in page.rejected if r.psa_id]

    def _parser(self, entity: Entity, lk: Lookups) -> Callable[[Json], Record]:
        cfg = self.integration
        parsers: dict[Entity, Callable[[Json], Record]] = {
            Entity.COMPANY: lambda d: _company(d, lk),
            Entity.SITE: lambda d: _site(d, lk),
            Entity.ASSET: lambda d: _asset(d, lk, cfg.asset_custom_fields, self.purchase_udf),
            Entity.CONTACT: lambda d: _contact(d, lk, cfg.contact_custom_fields),
        }
        return parsers[entity]

    def _picklist_parser(self, entity: Entity) -> Callable[[Json], Record]:
        if entity is Entity.BOARD:
            return _board
        if entity is Entity.PRIORITY:
            return _priority
        return lambda d: _ticket_status(d, self.closed_labels)
