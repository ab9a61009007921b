"""Query parameters: paging, id lists, flags, moments and the filter window."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final, NamedTuple

from aiohttp import web

from psad.simulators.syncro.config import Wire


_TRUE: Final = frozenset({"true", "1", "t", "yes", "on"})


def page_param(request: web.Request) -> int:
    try:
        return max(int(request.query.get("page", "1")), 1)
    except ValueError:
        return 1


def int_value(raw: str | None) -> int | None:
    """A Rails-style integer filter; unparseable input matches nothing (-1)."""
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        return -1


def ids_param(request: web.Request, name: str) -> set[int]:
    values = request.query.getall(f"{name}[]", []) + request.query.getall(name, [])
    return {v for raw in values for part in raw.split(",") if (v := int_value(part.strip())) is not None}


def flag_param(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").strip().lower() in _TRUE


def moment_param(raw: str | None, name: str) -> datetime | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParam(f"{name} is not a valid date") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class InvalidParam(Exception):
    """A filter value Syncro would refuse; becomes a 422."""


class Window(NamedTuple):
    ids: Sequence[int]
    page: int
    total: int
    per_page: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.per_page)

    def page_ids(self) -> Sequence[int]:
        start = (self.page - 1) * self.per_page
        return self.ids[start:start + self.per_page]

    def meta(self, *, short: bool = False) -> Wire:
        if short:
            return {"total_pages": self.total_pages, "page": self.page}
        return {"total_pages": self.total_pages, "total_entries": self.total,
                "per_page": self.per_page, "page": self.page}


def contains_text(needle: str, *haystack: str | None) -> bool:
    folded = needle.casefold()
    return any(h is not None and folded in h.casefold() for h in haystack)
