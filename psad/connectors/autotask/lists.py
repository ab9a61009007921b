"""Autotask lists: queries, paging by ``nextPageUrl`` or id ranges, the lookups records need."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, Final

from psad.connectors import wire
from psad.connectors.autotask.client import AutotaskApi
from psad.connectors.autotask.wire import (
    MATCH_ALL,
    MAX_RECORDS,
    Filter,
    Json,
    Lookups,
    UdfDef,
    _labels,
    _picklist,
    _query_result,
    _udf_defs,
)
from psad.connectors.paging import chain_ahead, first_then, merged
from psad.connectors.wire import BadRecord
from psad.errors import PsaBadResponse, PsaNotFound
from psad.model import Entity

log = logging.getLogger("psad.connectors.autotask")

ID_RANGES: Final = 3
"""Id ranges a long list is read in at once: Autotask's per-endpoint thread limit."""
SPLIT_AFTER_PAGES: Final = 4
"""A list is split into id ranges only when this many pages follow the first, so the
count query and the ranges' short last pages buy a real saving in time."""


_Next = tuple[str, dict[str, Any], int]
"""Where the next page is: its URL, the query body it must be POSTed with (the one
that produced it), and the last id read so far."""


class AutotaskLists(AutotaskApi):
    """Queries and the lookups (picklists, UDFs, names) records are mapped with."""

    async def _query(self, entity: str, filters: list[Filter], *, size: int,
                     include: Sequence[str] = ()) -> tuple[list[Any], str | None]:
        body: dict[str, Any] = {"MaxRecords": size}
        if include:
            body["IncludeFields"] = list(include)
        body["filter"] = filters
        return _query_result(await self._call("POST", f"{entity}/query", body=body), entity)

    def _reader(self, entity: str, filters: list[Filter], include: Sequence[str],
                ) -> Callable[[_Next | None], Awaitable[tuple[list[Any], _Next | None]]]:
        """Reads one page of a query: the first for ``None``, else where ``nextPageUrl``
        pointed. A refused (expired) ``nextPageUrl`` is replaced by the same query for
        ids past the last one read."""
        body: dict[str, Any] = {"MaxRecords": self.page_size}
        if include:
            body["IncludeFields"] = list(include)
        body["filter"] = filters
        first = f"{entity}/query"

        async def read(cursor: _Next | None) -> tuple[list[Any], _Next | None]:
            path, sent, last_id = cursor or (first, body, -1)
            try:
                result = await self._call("POST", path, body=sent)
            except (PsaBadResponse, PsaNotFound) as err:
                status = getattr(err, "status", 404)
                if path == first or status not in (400, 404, 405, 410):
                    raise
                log.warning("integration=%s %s next page refused (%s); continuing by id",
                            self.name, entity, err)
                sent = {**body, "filter": [*filters, {"op": "gt", "field": "id",
                                                      "value": last_id}]}
                result = await self._call("POST", first, body=sent)
            items, next_url = _query_result(result, entity)
            ids = [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), int)]
            return items, (next_url, sent, max(ids, default=last_id)) if next_url else None

        return read

    async def _pages(self, entity: str, filters: list[Filter], *, include: Sequence[str] = (),
                     count_first: bool = False,
                     on_total: Callable[[int | None], None] | None = None,
                     ) -> AsyncIterator[list[Any]]:
        """Every matching item, one upstream page at a time.

        ``nextPageUrl`` makes a list a chain, one page after another. A list that
        goes on for more than :data:`SPLIT_AFTER_PAGES` pages after the first is read as
        :data:`ID_RANGES` id ranges at once (Autotask serves three requests at a time
        per endpoint), each range a chain of its own: ranges of ids cover every
        record exactly once whatever moves meanwhile, and cost one count query plus
        a short last page per extra range. With ``count_first`` (the synced lists,
        long at a large MSP) the count goes out beside the first page, so the
        ranges start when it arrives; otherwise it is asked only when a second
        page exists. The ranges (or the chain) are on their way before the first
        page is handed on. ``on_total`` hears the list's length once it is known.
        """
        read = self._reader(entity, filters, include)
        counting = asyncio.ensure_future(self._count(entity, filters)) if count_first else None
        try:
            items, cursor = await read(None)
            if not items:
                return
            if cursor is None:
                if on_total:
                    on_total(len(items))
                yield items
                return
            if counting is None:
                counting = asyncio.ensure_future(self._count(entity, filters))
            total = await counting
            if on_total:
                on_total(total)
            ranges = self._id_ranges(items, total)
        finally:
            if counting is not None:
                counting.cancel()
                await asyncio.gather(counting, return_exceptions=True)
        rest = chain_ahead(read, cursor) if ranges is None else merged(
            [chain_ahead(self._reader(entity, [*filters, *bounds], include))
             for bounds in ranges])
        async for page in first_then(items, rest):
            yield page

    async def _count(self, entity: str, filters: list[Filter]) -> int | None:
        """How many items match ``filters``; None when the count query is refused."""
        try:
            body = await self._call("POST", f"{entity}/query/count", body={"filter": filters})
        except (PsaBadResponse, PsaNotFound) as err:
            log.warning("integration=%s %s count refused (%s); reading one page at a time",
                        self.name, entity, err)
            return None
        count = body.get("queryCount") if isinstance(body, dict) else None
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    def _id_ranges(self, first: list[Any], total: int | None) -> list[list[Filter]] | None:
        """Id bounds splitting what is left after ``first`` into ranges of about equal
        size (judged by how dense ids were on the first page); None when it is short."""
        ids = [i["id"] for i in first if isinstance(i, dict) and isinstance(i.get("id"), int)]
        if total is None or len(ids) < 2:
            return None
        left = total - len(first)
        if left <= SPLIT_AFTER_PAGES * self.page_size:
            return None
        low, high = min(ids), max(ids)
        span = (high - low + 1) * left / len(ids)
        cuts = [high + max(1, round(span * n / ID_RANGES)) for n in range(1, ID_RANGES)]
        edges = [high, *sorted(set(cuts))]
        ranges: list[list[Filter]] = [
            [{"op": "gt", "field": "id", "value": lo}, {"op": "lte", "field": "id", "value": hi}]
            for lo, hi in zip(edges, edges[1:])]
        ranges.append([{"op": "gt", "field": "id", "value": edges[-1]}])
        return ranges

    async def _all(self, entity: str, filters: list[Filter] | None = None,
                   include: Sequence[str] = ()) -> list[Any]:
        items: list[Any] = []
        async for page in self._pages(entity, filters or [MATCH_ALL], include=include):
            items.extend(page)
        return items

    # -- lookups

    async def picklists(self, entity: str, *, fresh: bool = False) -> dict[str, list[Json]]:
        """``{field name (lower case): picklist entries}`` of ``entity``."""
        async def load() -> dict[str, list[Json]]:
            body = await self._call("GET", f"{entity}/entityInformation/fields")
            fields = body.get("fields") if isinstance(body, dict) else None
            if not isinstance(fields, list):
                raise PsaBadResponse(f"GET {entity}/entityInformation/fields: no fields list",
                                     integration=self.name)
            out: dict[str, list[Json]] = {}
            for field in fields:
                if isinstance(field, dict) and field.get("isPickList") and field.get("name"):
                    values = field.get("picklistValues") or []
                    out[str(field["name"]).lower()] = [v for v in values if isinstance(v, dict)]
            return out
        result: dict[str, list[Json]] = await self._cached(f"fields:{entity}", load, fresh)
        return result

    async def _udfs(self, entity: str, selected: Sequence[str]) -> dict[str, UdfDef]:
        if not selected:
            return {}
        body = await self._call("GET", f"{entity}/entityInformation/userDefinedFields")
        try:
            return _udf_defs(body)
        except BadRecord as err:
            raise PsaBadResponse(f"GET {entity}/entityInformation/userDefinedFields: {err}",
                                 integration=self.name) from None

    async def _names(self, entity: str, label: Callable[[Json], str | None]) -> dict[str, str]:
        names: dict[str, str] = {}
        for item in await self._all(entity):
            if isinstance(item, dict) and item.get("id") is not None:
                if (name := label(item)) is not None:
                    names[str(item["id"])] = name
        return names

    async def _countries(self) -> dict[str, str]:
        countries: dict[str, str] = await self._cached("countries", lambda: self._names(
            "Countries", lambda c: wire.opt_text(c, "displayName") or wire.opt_text(c, "name")),
            fresh=False)
        return countries

    async def _names_for(self, entity: str, ids: Iterable[str], fields: Sequence[str],
                         label: Callable[[Json], str | None]) -> dict[str, str]:
        """Names of the records ``ids`` of ``entity``, 500 ids per query."""
        wanted = sorted({int(i) for i in ids if i.isdigit()})
        names: dict[str, str] = {}
        for start in range(0, len(wanted), MAX_RECORDS):
            chunk = wanted[start:start + MAX_RECORDS]
            items, _ = await self._query(entity, [{"op": "in", "field": "id", "value": chunk}],
                                         size=MAX_RECORDS, include=("id", *fields))
            for item in items:
                if isinstance(item, dict) and item.get("id") is not None:
                    if (name := label(item)) is not None:
                        names[str(item["id"])] = name
        return names

    async def _lookups(self, entity: Entity) -> Lookups:
        cfg = self.integration
        if entity is Entity.COMPANY:
            types = _picklist(await self.picklists("Companies", fresh=True), "companyType")
            return Lookups(company_types=_labels(types))
        if entity is Entity.SITE:
            return Lookups(countries=await self._countries())
        if entity is Entity.ASSET:
            ci_types, udfs = await asyncio.gather(
                self._names("ConfigurationItemTypes", lambda t: wire.opt_text(t, "name")),
                self._udfs("ConfigurationItems", cfg.asset_custom_fields))
            return Lookups(ci_types=ci_types, products={}, udfs=udfs)
        countries, udfs = await asyncio.gather(
            self._countries(), self._udfs("Contacts", cfg.contact_custom_fields))
        return Lookups(countries=countries, udfs=udfs)
