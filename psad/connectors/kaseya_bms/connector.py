"""The Kaseya BMS connector: its settings and the synced entities' reads."""

from __future__ import annotations

import logging
import zlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from psad.connectors import wire
from psad.connectors.base import Page, Setting, translate_page, translated
from psad.connectors.kaseya_bms.client import gather
from psad.connectors.kaseya_bms.tickets import KaseyaBmsTickets
from psad.connectors.kaseya_bms.wire import (
    ACCOUNTS,
    ACTIVE,
    ASSET_ROWS,
    CONTACTS,
    DEFAULT_CONTACT_MODULE,
    DEFAULT_REFRESH_DAYS,
    ID_LISTS,
    INACTIVE,
    LOCATION_CACHE_SIZE,
    _address,
    _asset,
    _board,
    _company,
    _contact,
    _priority,
    _row_differs,
    _site,
    _ticket_status,
    bms_timestamp,
    camel,
    records,
)
from psad.connectors.wire import BadRecord
from psad.errors import PsaBadResponse, PsaNotFound
from psad.model import Address, Asset, Contact, Entity, Record, Rejected, Site

log = logging.getLogger("psad.connectors.kaseya_bms")


class KaseyaBmsConnector(KaseyaBmsTickets):
    kind = "kaseya_bms"
    settings = (
        Setting("tenant", "the BMS company (tenant) name from My Settings"),
        Setting("username", "the BMS user psad signs in as (API access, no MFA)"),
        Setting("password", "that user's password", secret=True),
        Setting("ui_url", "the BMS web address for ticket links; default: the API host "
                "without its 'api.' prefix", required=False),
        Setting("contact_custom_fields_module", "BMS module id of contact custom fields "
                f"(default {DEFAULT_CONTACT_MODULE})", required=False, type=int, minimum=0,
                maximum=1_000_000),
        Setting("asset_detail_refresh_days", "days within which every asset's details are "
                f"re-read even when its list row is unchanged (default {DEFAULT_REFRESH_DAYS})",
                required=False, type=int, minimum=1, maximum=365),
    )
    incremental = frozenset({Entity.COMPANY, Entity.CONTACT})

    # -- sync ------------------------------------------------------------------------------

    def fetch(self, entity: Entity, *, since: datetime | None = None) -> AsyncIterator[Page]:
        fetchers: dict[Entity, Callable[[datetime | None], AsyncIterator[Page]]] = {
            Entity.COMPANY_STATUS: self._company_statuses,
            Entity.COMPANY: self._companies,
            Entity.SITE: self._sites,
            Entity.ASSET: self._assets,
            Entity.CONTACT: self._contacts,
            Entity.BOARD: self._setup("queues", Entity.BOARD, _board),
            Entity.PRIORITY: self._setup("priorities", Entity.PRIORITY, _priority),
            Entity.TICKET_STATUS: self._setup("statuses", Entity.TICKET_STATUS, _ticket_status),
        }
        return fetchers[entity](since if entity in self.incremental else None)

    async def list_ids(self, entity: Entity) -> AsyncIterator[Sequence[str]]:
        if entity in ID_LISTS:
            path, params = ID_LISTS[entity]
            async for items in self._pages(path, params):
                yield [str(i["id"]) for i in items
                       if isinstance(i, dict) and i.get("id") is not None]
            return
        async for page in self.fetch(entity):
            yield [r.psa_id for r in page.records] + [r.psa_id for r in page.rejected if r.psa_id]

    @staticmethod
    def _changed(since: datetime | None) -> dict[str, str]:
        return {} if since is None else {"Filter.ModifiedOnFrom": bms_timestamp(since)}

    async def _company_statuses(self, since: datetime | None) -> AsyncIterator[Page]:
        yield Page([ACTIVE, INACTIVE])

    async def _companies(self, since: datetime | None) -> AsyncIterator[Page]:
        async for items in self._pages(ACCOUNTS, self._changed(since)):
            yield await translated(Entity.COMPANY, items, _company)

    async def _sites(self, since: datetime | None) -> AsyncIterator[Page]:
        async for items in self._pages(ACCOUNTS):
            found: list[Record] = []
            rejected: list[Rejected] = []
            for item in items:
                page = self._account_sites(item)
                found.extend(page.records)
                rejected.extend(page.rejected)
            yield Page(found, rejected)

    def _account_sites(self, item: Any) -> Page:
        try:
            account = wire.obj(item, "account")
            company_id = wire.psa_id(account)
            locations = account.get("locations") or []
            if not isinstance(locations, list):
                raise BadRecord("locations: expected a list")
        except BadRecord as err:
            return Page([], [Rejected(Entity.SITE, None, f"account: {err}")])
        page = translate_page(Entity.SITE, locations, lambda d: _site(d, company_id))
        for site in page.records:
            if isinstance(site, Site):
                self._remember(site.psa_id, site.address)
        return page

    async def _assets(self, since: datetime | None) -> AsyncIterator[Page]:
        """List rows, then details for the assets that need them (see the module notes)."""
        stored = await self.stored(Entity.ASSET) if self.stored is not None else {}
        turn = self.today().toordinal() % self.refresh_days
        changed = refreshed = deferred = 0
        async for rows in self._pages(ASSET_ROWS):
            ids: list[str] = []
            present: list[str] = []
            rejected: list[Rejected] = []
            for row in rows:
                try:
                    d = wire.obj(row, "asset")
                    asset_id = wire.psa_id(d)
                    old = stored.get(asset_id)
                    if old is None or _row_differs(d, old):
                        changed += 1
                    elif zlib.crc32(asset_id.encode()) % self.refresh_days == turn:
                        refreshed += 1
                    else:
                        deferred += 1
                        present.append(asset_id)
                        continue
                    ids.append(asset_id)
                except BadRecord as err:
                    rejected.append(Rejected(Entity.ASSET, None, str(err)))
            details = await gather(self._asset(asset_id) for asset_id in ids)
            found = [d for d in details if isinstance(d, Asset)]
            rejected.extend(d for d in details if isinstance(d, Rejected))
            yield Page(found, rejected, present=present)
        log.info("integration=%s asset details read: %d new or changed, %d in the rolling "
                 "refresh (1/%d a day); %d deferred", self.name, changed, refreshed,
                 self.refresh_days, deferred)

    async def _asset(self, asset_id: str) -> Asset | Rejected | None:
        try:
            envelope = await self._call("GET", f"servicedesk/hardwareasset/{asset_id}")
        except PsaNotFound:
            return None  # deleted since the list was read
        except PsaBadResponse as err:
            return Rejected(Entity.ASSET, asset_id, str(err))
        try:
            return _asset(wire.obj(camel(envelope.result), "asset"),
                          self.integration.asset_custom_fields)
        except BadRecord as err:
            return Rejected(Entity.ASSET, asset_id, str(err))

    async def _contacts(self, since: datetime | None) -> AsyncIterator[Page]:
        selected = self.integration.contact_custom_fields
        async for items in self._pages(CONTACTS, self._changed(since)):
            contacts = [i for i in items if isinstance(i, dict)]
            await self._resolve_locations(contacts)
            custom: dict[str, list[Any] | str] = {}
            if selected:
                ids = [str(c["id"]) for c in contacts if c.get("id") is not None]
                custom = dict(zip(ids, await gather(self._custom_fields(i) for i in ids)))

            def parse(d: Mapping[str, Any]) -> Contact:
                return _contact(d, selected, custom.get(str(d.get("id"))),
                                self._address(wire.opt_id(d, "locationId")))

            yield await translated(Entity.CONTACT, items, parse)

    async def _custom_fields(self, contact_id: str) -> list[Any] | str:
        """The contact's custom fields, or why they could not be read."""
        path = f"system/customFields/{self.contact_module}/{contact_id}"
        try:
            envelope = await self._call("GET", path)
        except PsaNotFound:
            return []
        except PsaBadResponse as err:
            return str(err)
        return records(envelope.result, f"GET {path}", self.name)

    async def _resolve_locations(self, contacts: Sequence[Mapping[str, Any]]) -> None:
        """Read the locations these contacts sit at, unless the sites pass already did."""
        wanted: dict[str, str] = {}
        for contact in contacts:
            try:
                location, account = wire.opt_id(contact, "locationId"), wire.opt_id(contact,
                                                                                     "accountId")
            except BadRecord:
                continue
            if location and account and location not in self._addresses:
                wanted[location] = account
        found = await gather(self._location_address(a, loc) for loc, a in wanted.items())
        for location, address in zip(wanted, found):
            self._remember(location, address)

    async def _location_address(self, account_id: str, location_id: str) -> Address:
        try:
            envelope = await self._call(
                "GET", f"crm/accounts/{account_id}/locations/{location_id}")
            return _address(wire.obj(camel(envelope.result), "location"))
        except (PsaNotFound, BadRecord):
            return Address()

    def _remember(self, location_id: str, address: Address) -> None:
        self._addresses[location_id] = address
        self._addresses.move_to_end(location_id)
        while len(self._addresses) > LOCATION_CACHE_SIZE:
            self._addresses.popitem(last=False)

    def _address(self, location_id: str | None) -> Address:
        return self._addresses.get(location_id, Address()) if location_id else Address()

    def _setup(self, kind: str, entity: Entity, parse: Callable[[Mapping[str, Any]], Record]
               ) -> Callable[[datetime | None], AsyncIterator[Page]]:
        async def fetch(since: datetime | None) -> AsyncIterator[Page]:
            yield translate_page(entity, await self._lookup(kind), parse)
        return fetch
