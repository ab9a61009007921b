"""Query parameters: case-insensitive names, typed values, paging and date windows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from psad.simulators.kaseya_bms.config import DEFAULT_PAGE_SIZE
from psad.simulators.kaseya_bms.errors import BadRequest


def lower_keys(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Keys folded to lower case: ASP.NET binds names case-insensitively."""
    return {str(k).lower(): v for k, v in pairs}


def int_value(raw: Any, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise BadRequest(f"The value '{raw}' is not valid for {name}.")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"The value '{raw}' is not valid for {name}.") from None


def bool_value(raw: Any, name: str) -> bool | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise BadRequest(f"The value '{raw}' is not valid for {name}.")


def moment_value(raw: Any, name: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"The value '{raw}' is not valid for {name}.") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def name_set(raw: Any) -> set[str] | None:
    if raw is None or str(raw).strip() == "":
        return None
    return {part.strip().casefold() for part in str(raw).split(",") if part.strip()}


def id_set(raw: Any, name: str) -> set[int] | None:
    if raw is None or str(raw).strip() == "":
        return None
    return {int_value(part.strip(), name, 0) for part in str(raw).split(",") if part.strip()}


def page_params(q: Mapping[str, Any]) -> tuple[int, int]:
    number = max(int_value(q.get("pagenumber"), "PageNumber", 1), 1)
    size = int_value(q.get("pagesize"), "PageSize", DEFAULT_PAGE_SIZE)
    return number, size if size > 0 else DEFAULT_PAGE_SIZE


def page_slice(items: Sequence[Any], number: int, size: int) -> Sequence[Any]:
    start = (number - 1) * size
    return items[start:start + size]


def between(value: datetime, low: datetime | None, high: datetime | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)
