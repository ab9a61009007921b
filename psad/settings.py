"""Settings as data: one :class:`Setting` per key of the config file.

Each config section (``[server]``, ``[sync]``, the keys every integration has)
and each connector declares a table of these; the one table drives parsing,
type checks, defaults, ``check-config`` and the documented example. This
module is neutral so that both :mod:`psad.config` and the connectors import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psad.logs import MIN_SECRET_LENGTH

TOKEN_MIN_LENGTH = 16
"""``server.api_token`` and ``server.metrics_token`` are at least this long."""
TYPE_NAMES: dict[type, str] = {str: "a non-empty string", int: "an integer", float: "a number",
                               bool: "true or false", list: "a list of non-empty strings"}


@dataclass(frozen=True, slots=True)
class Setting:
    """One key: its name, what it is for, its type and bounds, and its default.

    ``secret`` settings never sit inline: they name where to read the value
    (``{ env = … }``, ``{ file = … }`` or ``{ credential = … }``) and must be at
    least ``min_length`` characters once read (never below what the log
    redactor registers, so a refused value is never mistaken for a secret). A setting with a default is
    never required.
    """

    name: str
    help: str
    secret: bool = False
    required: bool = True
    type: type = str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int = MIN_SECRET_LENGTH

    @property
    def needed(self) -> bool:
        return self.required and self.default is None

    def describe_type(self) -> str:
        return "a secret reference" if self.secret else TYPE_NAMES[self.type]


def default_of(table: tuple[Setting, ...], name: str) -> Any:
    """The default a table states for ``name`` (dataclass fields take theirs from here)."""
    return next(s.default for s in table if s.name == name)
