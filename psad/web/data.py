"""The mirrored data as JSON: one read-only listing per synced entity.

``GET /api/integrations/{name}/{companies|sites|assets|contacts|company-statuses|
boards|priorities|ticket-statuses}`` answers ``{"items": [...], "next": ...}``:
rows in PSA-id order with the store's field names, filtered, and keyset-paged by
an opaque ``next`` cursor (pass it back with the same filters for the next page).
``updated_since`` makes it a change feed: rows whose content changed, or that
were deleted (with ``include_deleted=true``), at or after that moment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from psad.model import Entity
from psad.store.contract import EntityPage, EntityQuery
from psad.web.api import (boolean, int_between, integration_or_404, parse_query, psa_id_param,
                          runtime, search_text)

routes = web.RouteTableDef()
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
CURSOR_PATTERN = "^([0-9a-f]{2}){1,64}$"
"""A cursor is the hex of the last row's PSA id: opaque to clients, and any well-formed
cursor is a valid position (the next page starts after it)."""


def slug(entity: Entity) -> str:
    """The entity's name in URLs (``ticket_statuses`` → ``ticket-statuses``)."""
    return entity.value.replace("_", "-")


def encode_cursor(psa_id: str) -> str:
    return psa_id.encode().hex()


def decode_cursor(value: str) -> str:
    if not value or len(value) > 128 or len(value) % 2:
        raise ValueError("is not a cursor this API returned")
    try:
        return bytes.fromhex(value).decode("utf-8", "replace")
    except ValueError:
        raise ValueError("is not a cursor this API returned") from None


def moment(value: str) -> datetime:
    """An ISO-8601 / RFC 3339 date-time with a UTC offset, as UTC (extremes clamped)."""
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError:
        raise ValueError("expected an ISO-8601 date-time such as 2026-11-25T04:00:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError("needs a UTC offset, such as Z or +01:00")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return (datetime.min if parsed.year == 1 else datetime.max).replace(tzinfo=UTC)


def data_filters(entity: Entity) -> dict[str, Callable[[str], Any]]:
    """The query parameters an entity's listing takes (``company`` for company children)."""
    spec: dict[str, Callable[[str], Any]] = {
        "q": search_text, "updated_since": moment, "include_deleted": boolean,
        "out_of_scope": boolean, "limit": int_between(1, MAX_LIMIT), "next": decode_cursor}
    if entity.is_company_child:
        spec["company"] = psa_id_param("company")
    return spec


def entity_query(query: Mapping[str, Any], *, limit: int = DEFAULT_LIMIT) -> EntityQuery:
    return EntityQuery(company=query.get("company"), text=query.get("q"),
                       updated_since=query.get("updated_since"),
                       include_deleted=query.get("include_deleted", False),
                       out_of_scope=query.get("out_of_scope"), after=query.get("next"),
                       limit=query.get("limit", limit))


def next_cursor(page: EntityPage) -> str | None:
    return encode_cursor(page.rows[-1]["psa_id"]) if page.has_more else None


def _listing(entity: Entity) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        integration = integration_or_404(request)
        query = parse_query(request, data_filters(entity))
        page = await runtime(request).store.entity_page(integration.name, entity,
                                                        entity_query(query))
        return web.json_response({"items": list(page.rows), "next": next_cursor(page)})
    handler.__name__ = f"list_{entity.value}"
    handler.__doc__ = f"The synced {entity.value.replace('_', ' ')} of one integration."
    return handler


for _entity in Entity:
    routes.get(f"/api/integrations/{{name}}/{slug(_entity)}")(_listing(_entity))
