"""The ConnectWise PSA connector: its settings and the synced entities' reads."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from psad.connectors.base import Page, Setting, translate_page, translated
from psad.connectors.connectwise import typed
from psad.connectors.connectwise.tickets import ConnectWiseTickets
from psad.connectors.connectwise.wire import (
    _PATHS,
    BUNDLE_SIZE,
    SITE_BATCH,
    _board,
    _chunks,
    _company,
    _company_status,
    _contact,
    _priority,
    _site,
    _ticket_status,
    cw_timestamp,
)
from psad.connectors.paging import fan_out
from psad.errors import PsaBadResponse, PsaError
from psad.model import Entity, Record, Rejected
from psad.progress import report_total

log = logging.getLogger("psad.connectors.connectwise")

_DECODERS: dict[Entity, msgspec.json.Decoder[Any]] = {Entity.ASSET: typed.CONFIGURATIONS}
"""Entities whose pages are decoded into typed structs (the rest are read as plain JSON)."""


class ConnectWiseConnector(ConnectWiseTickets):
    kind = "connectwise"
    settings = (
        Setting("company_id", "the ConnectWise company id you log in with"),
        Setting("public_key", "API member public key", secret=True),
        Setting("private_key", "API member private key", secret=True),
        Setting("client_id", "the clientId GUID from developer.connectwise.com"),
    )
    incremental = frozenset({Entity.COMPANY, Entity.SITE, Entity.ASSET, Entity.CONTACT})

    # -- sync ------------------------------------------------------------------

    async def fetch(self, entity: Entity, *, since: datetime | None = None) -> AsyncIterator[Page]:
        conditions = ([f"lastUpdated>[{cw_timestamp(since)}]"]
                      if since is not None and entity in self.incremental else [])
        if entity is Entity.SITE:
            async for page in self._fetch_sites(conditions):
                yield page
            return
        if entity is Entity.TICKET_STATUS:
            async for page in self._fetch_ticket_statuses():
                yield page
            return
        parse = self._parsers()[entity]
        counting: asyncio.Future[None] | None = None
        first = True
        try:
            async for items in self._pages(_PATHS[entity], conditions=conditions,
                                           decoder=_DECODERS.get(entity)):
                if first and len(items) >= self.page_size:  # a full first page: more follow
                    counting = asyncio.ensure_future(
                        self._report_count(_PATHS[entity], conditions))
                elif first:
                    report_total(len(items))
                first = False
                yield await translated(entity, items, parse)
            if counting is not None:
                await counting  # a count still being retried is not cut short
        finally:
            if counting is not None:
                counting.cancel()
                await asyncio.gather(counting, return_exceptions=True)

    async def _report_count(self, path: str, conditions: Sequence[str]) -> None:
        """Tell the live progress how many items ``path`` holds (``GET …/count``, asked
        beside the second page); a count that fails costs nothing but the percentage."""
        params = {"conditions": " and ".join(f"({c})" for c in conditions)} if conditions else None
        try:
            body = await self._get(path + "/count", params)
        except PsaError as err:
            log.debug("integration=%s GET %s/count failed: %s", self.name, path, err)
            return
        count = body.get("count") if isinstance(body, dict) else None
        if isinstance(count, int) and not isinstance(count, bool):
            report_total(count)

    async def list_ids(self, entity: Entity) -> AsyncIterator[Sequence[str]]:
        if entity in _PATHS:
            async for items in self._pages(_PATHS[entity], fields="id"):
                yield [str(i["id"]) for i in items if isinstance(i, dict) and "id" in i]
            return
        async for page in self.fetch(entity):
            yield [r.psa_id for r in page.records] + [r.psa_id for r in page.rejected if r.psa_id]

    async def _company_ids(self) -> AsyncIterator[list[int]]:
        async for items in self._pages(_PATHS[Entity.COMPANY], fields="id"):
            yield [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), int)]

    async def count(self, entity: Entity) -> int | None:
        if entity in self.incremental and entity in _PATHS:
            body = await self._get(_PATHS[entity] + "/count")
            count = body.get("count") if isinstance(body, dict) else None
            if not isinstance(count, int) or isinstance(count, bool):
                raise PsaBadResponse(f"GET {_PATHS[entity]}/count: expected {{\"count\": N}}",
                                     integration=self.name)
            return count
        if entity is Entity.SITE and not self.bundles_refused:
            total = 0
            async for company_ids in self._company_ids():
                counts = await fan_out(self._bundle_count("site", chunk)
                                       for chunk in _chunks(company_ids, BUNDLE_SIZE))
                if any(c is None for c in counts):
                    return None
                total += sum(c for c in counts if c is not None)
            return total
        return None

    async def _fetch_sites(self, conditions: Sequence[str]) -> AsyncIterator[Page]:
        """Sites of every company, bundled; a page handed on every ``SITE_BATCH`` sites."""
        def site_path(company_id: int) -> str:
            return f"company/companies/{company_id}/sites"

        async for company_ids in self._company_ids():
            records: list[Record] = []
            rejected: list[Rejected] = []
            async for results in self._children("site", site_path, company_ids, conditions):
                for company_id, items in results:
                    page = translate_page(Entity.SITE, items,
                                          functools.partial(_site, company_id=str(company_id)))
                    records.extend(page.records)
                    rejected.extend(page.rejected)
                if len(records) + len(rejected) >= SITE_BATCH:
                    yield Page(records, rejected)
                    records, rejected = [], []
            if records or rejected:
                yield Page(records, rejected)

    async def _fetch_ticket_statuses(self) -> AsyncIterator[Page]:
        board_ids: list[int] = []
        async for items in self._pages(_PATHS[Entity.BOARD], fields="id"):
            board_ids.extend(i["id"] for i in items
                             if isinstance(i, dict) and isinstance(i.get("id"), int))
        async for results in self._children("boardStatus",
                                            lambda b: f"service/boards/{b}/statuses", board_ids):
            for board_id, items in results:
                yield translate_page(Entity.TICKET_STATUS, items,
                                     functools.partial(_ticket_status, board_id=str(board_id)))

    def _parsers(self) -> dict[Entity, Callable[[Any], Record]]:
        cfg = self.integration
        return {
            Entity.COMPANY_STATUS: _company_status,
            Entity.COMPANY: _company,
            Entity.ASSET: lambda d: typed.read_asset(d, cfg.asset_custom_fields),
            Entity.CONTACT: lambda d: _contact(d, cfg.contact_custom_fields),
            Entity.BOARD: _board,
            Entity.PRIORITY: _priority,
        }
