"""ConnectWise PSA (Manage) REST 3.0.

Wire facts this module relies on (see ``shared/psa-apis.md`` §1):
- Auth: ``Authorization: Basic base64("{companyId}+{publicKey}:{privateKey}")``
  plus the ``clientId`` header (mandatory since 2019).
- Lists are bare JSON arrays; ``pageSize`` tops out at 1000. psad pages by key
  (``conditions=id>N`` with ``orderBy=id asc``) instead of by page number, so a
  record changing mid-sync can neither be skipped nor repeated, and stops on
  a short page (a ``Link`` header is not needed).
- Changed-since: ``conditions=lastUpdated>[2025-01-31T02:00:00Z]`` (UTC).
- Sites have no list-all endpoint, so they are read per company through
  ``POST /system/bundles`` (``BUNDLE_SIZE`` companies' reads in one call, each
  carrying the changed-since condition in an incremental run), and counted
  through ``POST /system/bundles/count`` to prove nothing was deleted. Where
  bundles are refused, or one read in a bundle fails, those reads are made one
  call per company instead (logged once).
- ``GET …/count`` → ``{"count": N}`` answers the upstream total of an entity.
- Custom fields: ``customFields[{id, caption, value}]``, selected by caption.
- Ticket set-up data: ``/service/boards``, ``/service/boards/{id}/statuses``,
  ``/service/priorities``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from psad.connectors import wire
from psad.connectors.base import (Connector, Page, Setting, translate_page, translate_tickets,
                                 translated)
from psad.connectors.paging import chain_ahead
from psad.connectors.wire import BadRecord
from psad.errors import PsaAuthError, PsaBadResponse, PsaError, PsaInvalidId, PsaNotFound
from psad.http import RequestPriority, with_priority
from psad.logs import register_secret
from psad.model import (
    Address,
    Asset,
    Board,
    Company,
    CompanyStatus,
    Contact,
    Entity,
    Priority,
    Record,
    Rejected,
    Site,
    Ticket,
    TicketPage,
    TicketQuery,
    TicketStatus,
)
from psad.progress import note_custom_fields, report_total

log = logging.getLogger("psad.connectors.connectwise")

MAX_PAGE_SIZE = 1000
SITE_BATCH = 500
BUNDLE_SIZE = 100
"""Reads per ``POST /system/bundles``. ConnectWise publishes no limit; a server that
refuses this many is read one call per parent instead."""
BUNDLE_VERSION = "2025.1"

_PATHS: dict[Entity, str] = {
    Entity.COMPANY_STATUS: "company/companies/statuses",
    Entity.COMPANY: "company/companies",
    Entity.ASSET: "company/configurations",
    Entity.CONTACT: "company/contacts",
    Entity.BOARD: "service/boards",
    Entity.PRIORITY: "service/priorities",
}


class _BasicAuth:
    def __init__(self, company: str, public_key: str, private_key: str, client_id: str) -> None:
        credential = f"{company}+{public_key}:{private_key}"
        register_secret(credential)
        token = base64.b64encode(credential.encode()).decode()
        self._headers = {"Authorization": f"Basic {token}", "clientId": client_id}

    async def headers(self) -> Mapping[str, str]:
        return self._headers

    async def refresh(self) -> bool:
        return False


def cw_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ConnectWiseConnector(Connector):
    kind = "connectwise"
    settings = (
        Setting("company_id", "the ConnectWise company id you log in with"),
        Setting("public_key", "API member public key", secret=True),
        Setting("private_key", "API member private key", secret=True),
        Setting("client_id", "the clientId GUID from developer.connectwise.com"),
    )
    incremental = frozenset({Entity.COMPANY, Entity.SITE, Entity.ASSET, Entity.CONTACT})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.integration
        self.auth = _BasicAuth(cfg.settings["company_id"], self.secrets["public_key"],
                               self.secrets["private_key"], cfg.settings["client_id"])
        self.page_size = min(cfg.page_size or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
        self.bundles_refused = False
        """Set when the server refused ``/system/bundles``: single calls from then on."""

    # -- transport -----------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.integration.base_url + path

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        response = await self.client.get(self._url(path), params=params, auth=self.auth)
        return response.body

    def _pages(self, path: str, *, conditions: Sequence[str] = (),
               fields: str | None = None) -> AsyncIterator[list[Any]]:
        """Every item under ``path`` in id order, one upstream page at a time (the next
        one asked for as soon as this one arrives)."""
        async def read(last_id: int | None) -> tuple[list[Any], int | None]:
            where = list(conditions) + ([f"id>{last_id}"] if last_id is not None else [])
            params: dict[str, Any] = {"pageSize": self.page_size, "orderBy": "id asc"}
            if where:
                params["conditions"] = " and ".join(f"({c})" for c in where)
            if fields:
                params["fields"] = fields
            items = await self._get(path, params)
            if not isinstance(items, list):
                raise PsaBadResponse(f"GET {path}: expected a JSON array, got "
                                     f"{type(items).__name__}", integration=self.name)
            ids = [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), int)]
            more = len(items) >= self.page_size and ids
            return items, max(ids) if more else None

        return chain_ahead(read)

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
            async for items in self._pages(_PATHS[entity], conditions=conditions):
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
                counts = await asyncio.gather(*(
                    with_priority(RequestPriority.FAN_OUT, self._bundle_count("site", chunk))
                    for chunk in _chunks(company_ids, BUNDLE_SIZE)))
                if any(c is None for c in counts):
                    return None
                total += sum(c for c in counts if c is not None)
            return total
        return None

    def _children(self, resource_type: str, path: Callable[[int], str], parents: Sequence[int],
                  conditions: Sequence[str] = ()) -> AsyncIterator[list[tuple[int, list[Any]]]]:
        """Every item under each parent, ``BUNDLE_SIZE`` parents per bundled call, the
        calls concurrent (the client caps them); results as each call completes."""
        fallback = _Fallback(self.name, resource_type)

        async def one_bundle(chunk: Sequence[int]) -> list[tuple[int, list[Any]]]:
            return await self._bundle(resource_type, path, chunk, conditions, fallback)

        async def results() -> AsyncIterator[list[tuple[int, list[Any]]]]:
            tasks = [asyncio.ensure_future(with_priority(RequestPriority.FAN_OUT, one_bundle(c)))
                     for c in _chunks(parents, BUNDLE_SIZE)]
            try:
                for done in asyncio.as_completed(tasks):
                    yield await done
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        return results()

    async def _bundle(self, resource_type: str, path: Callable[[int], str],
                      parents: Sequence[int], conditions: Sequence[str],
                      fallback: _Fallback) -> list[tuple[int, list[Any]]]:
        """One bundled call reading each parent's first page; parents it could not
        answer in full (a failed read, more than a page) are read one call each."""
        found: dict[int, list[Any]] = {}
        single: list[int] = list(parents)
        if not self.bundles_refused:
            where = " and ".join(f"({c})" for c in conditions)
            results = await self._post_bundle("system/bundles", [
                _sub_request(resource_type, parent, where, self.page_size) for parent in parents])
            if results is not None:
                single = []
                for parent, result in zip(parents, results, strict=True):
                    if result.get("success") is True and isinstance(result.get("entities"), list):
                        if len(result["entities"]) < self.page_size:
                            found[parent] = result["entities"]
                            continue
                    elif result.get("statusCode") == 404:
                        found[parent] = []  # the parent was deleted since it was listed
                        continue
                    else:
                        fallback.note(f"{resource_type} of {parent}: HTTP "
                                      f"{result.get('statusCode')}: {_error_text(result)}")
                    single.append(parent)
        for parent in single:
            items: list[Any] = []
            async for page in self._pages(path(parent), conditions=conditions):
                items.extend(page)
            found[parent] = items
        return [(parent, found[parent]) for parent in parents]

    async def _bundle_count(self, resource_type: str, parents: Sequence[int]) -> int | None:
        """Items under ``parents`` in one bundled count; None when it cannot say."""
        results = await self._post_bundle("system/bundles/count", [
            _sub_request(resource_type, parent, "", self.page_size) for parent in parents])
        if results is None:
            return None
        total = 0
        for result in results:
            count = result.get("count")
            if result.get("statusCode") == 404:
                continue
            if result.get("success") is not True or not isinstance(count, int):
                return None
            total += count
        return total

    async def _post_bundle(self, path: str, requests: list[dict[str, Any]],
                           ) -> list[Mapping[str, Any]] | None:
        """The results of one bundle in request order, or None (and bundles off for
        this connector) when the server refuses bundles or answers them malformed."""
        try:
            response = await self.client.request("POST", self._url(path),
                                                  json_body={"requests": requests},
                                                  auth=self.auth)
        except (PsaBadResponse, PsaNotFound, PsaAuthError) as err:
            if not self.bundles_refused:
                log.warning("integration=%s POST %s refused (%s); reading one call per "
                            "parent from now on", self.name, path, err)
            self.bundles_refused = True
            return None
        body = response.body
        results = body.get("results") if isinstance(body, dict) else None
        by_sequence = {r.get("sequenceNumber"): r for r in results or []
                       if isinstance(r, dict)}
        if not isinstance(results, list) or len(by_sequence) != len(requests) or any(
                r["sequenceNumber"] not in by_sequence for r in requests):
            if not self.bundles_refused:
                log.warning("integration=%s POST %s: the answer does not match the "
                            "bundle; reading one call per parent from now on", self.name, path)
            self.bundles_refused = True
            return None
        return [by_sequence[r["sequenceNumber"]] for r in requests]

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

    def _parsers(self) -> dict[Entity, Callable[[Mapping[str, Any]], Record]]:
        cfg = self.integration
        return {
            Entity.COMPANY_STATUS: _company_status,
            Entity.COMPANY: _company,
            Entity.ASSET: lambda d: _asset(d, cfg.asset_custom_fields),
            Entity.CONTACT: lambda d: _contact(d, cfg.contact_custom_fields),
            Entity.BOARD: _board,
            Entity.PRIORITY: _priority,
        }

    # -- live tickets ------------------------------------------------------------

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


class _Fallback:
    """Reads that fell back to single calls during one fetch, logged once."""

    def __init__(self, integration: str, resource_type: str) -> None:
        self.integration = integration
        self.resource_type = resource_type
        self.logged = False

    def note(self, reason: str) -> None:
        if not self.logged:
            self.logged = True
            log.warning("integration=%s bundled %s reads fall back to one call each (first "
                        "reason: %s)", self.integration, self.resource_type, reason)


def _chunks(items: Sequence[int], size: int) -> list[Sequence[int]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _sub_request(resource_type: str, parent: int, conditions: str,
                 page_size: int) -> dict[str, Any]:
    """One read in a bundle: ``GET {parent's collection}?conditions=…``, first page. The
    names are the vendor's ``BundleRequest``/``ApiRequest`` model's, camelCase like every
    other ConnectWise JSON body."""
    return {"sequenceNumber": parent, "resourceType": resource_type, "version": BUNDLE_VERSION,
            "apiRequest": {"parentId": parent,
                           "filters": {"conditions": conditions},
                           "page": {"page": 1, "pageSize": page_size}}}


def _error_text(result: Mapping[str, Any]) -> str:
    error = result.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return str(message or "no message")


def _custom(d: Mapping[str, Any], selected: Sequence[str]) -> dict[str, Any]:
    raw = d.get("customFields") or []
    if not isinstance(raw, list):
        raise BadRecord("customFields: expected a list")
    pairs = [(f["caption"], _custom_value(f)) for f in raw
             if isinstance(f, dict) and isinstance(f.get("caption"), str)]
    note_custom_fields(name for name, value in pairs if value not in (None, ""))
    return dict(wire.pick_custom(pairs, selected))


def _custom_value(field: Mapping[str, Any]) -> Any:
    """Date fields arrive as midnight timestamps; keep the calendar date."""
    value = field.get("value")
    if field.get("type") == "Date" and isinstance(value, str) and value:
        parsed = wire.opt_date(field, "value")
        return parsed.isoformat() if parsed else None
    return value


def _company_status(d: Mapping[str, Any]) -> CompanyStatus:
    return CompanyStatus(psa_id=wire.psa_id(d), name=wire.text(d, "name"),
                         is_default=wire.flag(d, "defaultFlag"))


def _company(d: Mapping[str, Any]) -> Company:
    types = d.get("types") or []
    if not isinstance(types, list):
        raise BadRecord("types: expected a list")
    return Company(
        psa_id=wire.psa_id(d),
        name=wire.text(d, "name"),
        website=wire.opt_text(d, "website"),
        status=wire.ref_text(d, "status"),
        types=tuple(n for t in types if (n := wire.opt_text(wire.obj(t, "types[]"), "name"))),
    )


def _site(d: Mapping[str, Any], company_id: str) -> Site:
    state = wire.ref(d, "stateReference")
    return Site(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.ref_id(d, "company") or company_id,
        name=wire.text(d, "name"),
        active=not wire.flag(d, "inactiveFlag"),
        primary=wire.flag(d, "primaryAddressFlag"),
        address=Address(
            line1=wire.opt_text(d, "addressLine1"),
            line2=wire.opt_text(d, "addressLine2"),
            city=wire.opt_text(d, "city"),
            region=(wire.opt_text(state, "name") or wire.opt_text(state, "identifier"))
            if state else None,
            postal_code=wire.opt_text(d, "zip"),
            country=wire.ref_text(d, "country"),
        ),
    )


def _asset(d: Mapping[str, Any], selected: Sequence[str]) -> Asset:
    return Asset(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.ref_id(d, "company"),
        name=wire.text(d, "name"),
        status=wire.ref_text(d, "status"),
        type=wire.ref_text(d, "type"),
        purchase_date=wire.opt_date(d, "purchaseDate"),
        warranty_expiration=wire.opt_date(d, "warrantyExpirationDate"),
        serial_number=wire.opt_text(d, "serialNumber"),
        os_type=wire.opt_text(d, "osType"),
        notes=wire.opt_text(d, "notes"),
        manufacturer=wire.ref_text(d, "manufacturer"),
        custom_fields=_custom(d, selected),
    )


def _communication(d: Mapping[str, Any], kind: str) -> str | None:
    items = d.get("communicationItems") or []
    if not isinstance(items, list):
        raise BadRecord("communicationItems: expected a list")
    matches = [i for i in items if isinstance(i, dict) and i.get("communicationType") == kind]
    matches.sort(key=lambda i: not i.get("defaultFlag"))
    return wire.opt_text(matches[0], "value") if matches else None


def _contact(d: Mapping[str, Any], selected: Sequence[str]) -> Contact:
    types = d.get("types") or []
    if not isinstance(types, list):
        raise BadRecord("types: expected a list")
    type_names = [n for t in types if (n := wire.opt_text(wire.obj(t, "types[]"), "name"))]
    first, last = wire.opt_text(d, "firstName"), wire.opt_text(d, "lastName")
    if first is None and last is None:
        raise BadRecord("firstName/lastName: a contact needs a name")
    return Contact(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.ref_id(d, "company"),
        first_name=first,
        last_name=last,
        type=", ".join(type_names) or None,
        title=wire.opt_text(d, "title"),
        email=_communication(d, "Email"),
        phone=wire.opt_text(d, "defaultPhoneNbr") or _communication(d, "Phone"),
        address=Address(
            line1=wire.opt_text(d, "addressLine1"),
            line2=wire.opt_text(d, "addressLine2"),
            city=wire.opt_text(d, "city"),
            region=wire.opt_text(d, "state"),
            postal_code=wire.opt_text(d, "zip"),
            country=wire.ref_text(d, "country"),
        ),
        active=not wire.flag(d, "inactiveFlag"),
        custom_fields=_custom(d, selected),
    )


def _board(d: Mapping[str, Any]) -> Board:
    return Board(psa_id=wire.psa_id(d), name=wire.text(d, "name"),
                 active=not wire.flag(d, "inactiveFlag"))


def _priority(d: Mapping[str, Any]) -> Priority:
    return Priority(psa_id=wire.psa_id(d), name=wire.text(d, "name"),
                    sort_order=wire.opt_int(d, "sortOrder"))


def _ticket_status(d: Mapping[str, Any], board_id: str) -> TicketStatus:
    return TicketStatus(psa_id=wire.psa_id(d), name=wire.text(d, "name"),
                        board_psa_id=wire.ref_id(d, "board") or board_id,
                        closed=wire.flag(d, "closedStatus"),
                        sort_order=wire.opt_int(d, "sortOrder"))
