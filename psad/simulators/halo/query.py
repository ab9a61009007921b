"""Query parameters as Halo reads them: case-insensitive names and typed values."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from psad.simulators.halo.errors import BadParam


class Query:
    """Query parameters, names matched case-insensitively."""

    def __init__(self, request: web.Request) -> None:
        self.values = {k.casefold(): v for k, v in request.query.items()}

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value not in (None, "") else None

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise BadParam(f"The value '{value}' is not valid for {name}.")

    def number(self, name: str, default: int | None = None) -> int | None:
        value = self.text(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise BadParam(f"The value '{value}' is not valid for {name}.") from None

    def ints(self, name: str) -> set[int] | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return {int(v) for v in value.split(",") if v.strip()}
        except ValueError:
            raise BadParam(f"The value '{value}' is not valid for {name}.") from None

    def since(self) -> datetime | None:
        value = self.text("lastupdatefromdate")
        if value is None or value.lower() in ("true", "false"):
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadParam(f"The value '{value}' is not valid for lastupdatefromdate.") from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
