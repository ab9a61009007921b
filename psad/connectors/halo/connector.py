"""The HaloPSA connector: its settings and the synced entities' reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from psad.connectors.base import Page, Setting, translate_page, translated
from psad.connectors.halo.tickets import HaloTickets
from psad.connectors.halo.wire import (
    ACTIVE,
    ID_CHUNK,
    INACTIVE,
    LISTINGS,
    _asset,
    _client,
    _contact,
    _envelope,
    _ids,
    _main_site_ids,
    _priorities,
    _site,
    _team,
    halo_timestamp,
)
from psad.errors import PsaListingChanged
from psad.model import Entity, Record


class HaloConnector(HaloTickets):
    kind = "halo"
    settings = (
        Setting("client_id", "Client ID of the API application (Configuration > Integrations "
                             "> Halo API > View Applications)"),
        Setting("client_secret", "Client Secret of that application (Client Credentials, "
                                 "permission 'all' or read access)", secret=True),
        Setting("tenant", "tenant name of a Halo-hosted instance (sent as ?tenant= to the "
                          "token endpoint); leave out on-premise", required=False),
        Setting("auth_url", "Authorisation Server URL when it is not https://{host}/auth",
                required=False),
        Setting("scope", "OAuth scope to request (default: all)", required=False),
    )
    incremental = frozenset({Entity.COMPANY, Entity.ASSET, Entity.CONTACT})

    # -- sync ----------------------------------------------------------------------------

    def fetch(self, entity: Entity, *, since: datetime | None = None) -> AsyncIterator[Page]:
        if entity is Entity.COMPANY:
            self._clients_read.clear()  # now, so a sites fetch starting next waits for it
            return self._fetch_clients(since)
        return self._fetch(entity, since)

    async def _fetch(self, entity: Entity, since: datetime | None) -> AsyncIterator[Page]:
        if entity is Entity.COMPANY_STATUS:
            yield Page([ACTIVE, INACTIVE])
        elif entity is Entity.BOARD:
            yield translate_page(entity, await self._bare("Team"), _team)
        elif entity is Entity.PRIORITY:
            yield _priorities(await self._bare("Priority"))
        elif entity is Entity.TICKET_STATUS:
            yield await self._statuses()
        elif entity is Entity.SITE:
            main_sites = await self._main_sites()
            listing = self._pages(LISTINGS[entity])
            async for items in listing:
                yield await translated(entity, items, lambda d: _site(d, main_sites))
            if not listing.stable:
                yield Page([], listing_changed=True)
        else:
            extra = ({"lastupdatefromdate": halo_timestamp(since)}
                     if since is not None and entity in self.incremental else {})
            parse = self._parsers()[entity]
            listing = self._pages(LISTINGS[entity], extra)
            async for items in listing:
                yield await translated(entity, items, parse)
            if not listing.stable:
                yield Page([], listing_changed=True)

    async def count(self, entity: Entity) -> int | None:
        """``record_count`` of a one-row page: the same rows ``list_ids`` would list."""
        listing = LISTINGS.get(entity)
        if entity not in self.incremental or listing is None:
            return None
        params = {**listing.params, "pageinate": "true", "page_size": "1", "page_no": "1"}
        _, total = _envelope(await self._get(listing.path, params), listing, self.name)
        return total

    async def list_ids(self, entity: Entity) -> AsyncIterator[Sequence[str]]:
        listing = LISTINGS.get(entity)
        if listing is None:
            async for page in self.fetch(entity):
                yield [r.psa_id for r in page.records] + [r.psa_id for r in page.rejected
                                                          if r.psa_id]
            return
        body = await self._get(listing.path, {**listing.params, "idonly": "true"})
        items, total = _envelope(body, listing, self.name)
        ids = _ids(items)
        if total is None or len(ids) >= total:
            for start in range(0, len(ids), ID_CHUNK):
                yield ids[start:start + ID_CHUNK]
            return
        paged = self._pages(listing)
        async for items in paged:
            yield _ids(items)
        if not paged.stable:
            raise PsaListingChanged(f"GET {listing.path}: the list kept changing while its ids "
                                    "were read; deletions are swept at the next run",
                                    integration=self.name)

    async def _fetch_clients(self, since: datetime | None) -> AsyncIterator[Page]:
        """Companies, noting each client's main site for the sites fetch of this run."""
        try:
            noted: dict[str, str] = {}
            extra = {"lastupdatefromdate": halo_timestamp(since)} if since is not None else {}
            listing = self._pages(LISTINGS[Entity.COMPANY], extra)
            async for items in listing:
                noted.update(_main_site_ids(items))
                yield await translated(Entity.COMPANY, items, _client)
            if not listing.stable:
                yield Page([], listing_changed=True)
            self._main_site_of = noted if since is None and listing.stable else None
        finally:
            self._clients_read.set()

    async def _main_sites(self) -> dict[str, str]:
        """Client id → main site id, the only place Halo says which site is primary:
        what a full companies fetch of this run noted (waiting for one in progress),
        else a read of its own (an incremental companies fetch sees changed clients only)."""
        await self._clients_read.wait()
        noted, self._main_site_of = self._main_site_of, None
        if noted is not None:
            return noted
        main: dict[str, str] = {}
        async for items in self._pages(LISTINGS[Entity.COMPANY]):
            main.update(_main_site_ids(items))
        return main

    def _parsers(self) -> dict[Entity, Callable[[Mapping[str, Any]], Record]]:
        cfg = self.integration
        return {
            Entity.ASSET: lambda d: _asset(d, cfg.asset_custom_fields),
            Entity.CONTACT: lambda d: _contact(d, cfg.contact_custom_fields),
        }
