"""Small, strict readers for vendor JSON, shared by every connector.

Each raises :class:`BadRecord` with the field at fault, so a malformed record
is rejected alone with a reason that names what was wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from psad.model import CustomValue

MAX_TEXT = 65_536
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INTEGER = re.compile(r"^-?[0-9]{1,18}$")
_MS_DATE = re.compile(r"^/Date\((-?\d{1,15})([+-]\d{4})?\)/$")
EARLIEST_YEAR = 1901
"""Earlier dates are vendors' "no date" placeholders (0001-01-01, 1900-01-01)."""


class BadRecord(ValueError):
    """A vendor record that cannot be translated; the message names the field."""


def obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadRecord(f"{where}: expected an object, got {type(value).__name__}")
    return value


def psa_id(record: Mapping[str, Any], key: str = "id") -> str:
    return id_value(record.get(key), key)


def id_value(value: Any, key: str) -> str:
    """:func:`psa_id` of a value already taken out of its record (a typed decoder's field)."""
    if value.__class__ is int:
        text = str(value)
        if len(text) <= 64:
            return text
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadRecord(f"{key}: missing or not an id ({_show(value)})")
    text = str(value).strip()
    if not text or len(text) > 64 or not text.isprintable():
        raise BadRecord(f"{key}: not a usable id ({_show(value)})")
    return text


def opt_id(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None or value == 0:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return psa_id(record, key)


def text(record: Mapping[str, Any], key: str) -> str:
    return required_text(record.get(key), key)


def required_text(value: Any, key: str) -> str:
    """:func:`text` of a value already taken out of its record."""
    out = text_value(value, key)
    if out is None:
        raise BadRecord(f"{key}: required text is missing")
    return out


def opt_text(record: Mapping[str, Any], key: str) -> str | None:
    return text_value(record.get(key), key)


def text_value(value: Any, key: str) -> str | None:
    """:func:`opt_text` of a value already taken out of its record."""
    if value is None:
        return None
    if value.__class__ is str:
        out = value.strip()
        if "\x00" in out:
            out = out.replace("\x00", "").strip()
    elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadRecord(f"{key}: expected text, got {type(value).__name__}")
    else:
        out = str(value).replace("\x00", "").strip()
    if len(out) > MAX_TEXT:
        raise BadRecord(f"{key}: text longer than {MAX_TEXT} characters")
    return out or None


def flag(record: Mapping[str, Any], key: str, default: bool = False) -> bool:
    """A boolean that some vendors send as 0/1 or "true"/"false"."""
    value = record.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise BadRecord(f"{key}: expected true/false, got {_show(value)}")


def opt_int(record: Mapping[str, Any], key: str) -> int | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadRecord(f"{key}: expected a number, got a boolean")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.match(value.strip()):
        return int(value)
    raise BadRecord(f"{key}: expected a whole number, got {_show(value)}")


def ref(record: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = record.get(key)
    if value is None:
        return None
    return obj(value, key)


def ref_text(record: Mapping[str, Any], key: str, field: str = "name") -> str | None:
    reference = ref(record, key)
    return opt_text(reference, field) if reference is not None else None


def ref_id(record: Mapping[str, Any], key: str) -> str | None:
    reference = ref(record, key)
    return opt_id(reference, "id") if reference is not None else None


def parse_datetime(value: Any, key: str) -> datetime | None:
    """ISO-8601 in the shapes vendors send: ``Z``, offsets, no zone (taken as UTC)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{key}: expected a date, got {type(value).__name__}")
    raw = value.strip()
    try:
        if match := _MS_DATE.match(raw):
            moment = datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
        elif _DATE_ONLY.match(raw):
            moment = datetime.fromisoformat(raw).replace(tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise BadRecord(f"{key}: not a date ({_show(value)})") from None
    if moment.year < EARLIEST_YEAR:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def opt_date(record: Mapping[str, Any], key: str) -> date | None:
    """The calendar date a vendor meant; PSAs send dates as midnight timestamps."""
    return date_value(record.get(key), key)


def date_value(value: Any, key: str) -> date | None:
    """:func:`opt_date` of a value already taken out of its record."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{key}: expected a date, got {type(value).__name__}")
    raw = value.strip()
    if raw[:1] == "/" and _MS_DATE.match(raw):
        moment = parse_datetime(raw, key)
        return moment.date() if moment else None
    try:
        day = date.fromisoformat(raw[:10])
    except ValueError:
        raise BadRecord(f"{key}: not a date ({_show(value)})") from None
    return day if day.year >= EARLIEST_YEAR else None


def custom_value(value: Any, where: str) -> CustomValue:
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise BadRecord(f"{where}: value longer than {MAX_TEXT} characters")
        return value.replace("\x00", "")
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise BadRecord(f"{where}: unsupported custom field value {type(value).__name__}")


_PLAIN_CUSTOM = frozenset({type(None), bool, int, float})
"""Custom values :func:`custom_value` would return as they are."""


def pick_custom(pairs: Iterable[tuple[str, Any]],
                selected: Iterable[str]) -> dict[str, CustomValue]:
    """The selected custom fields by name; a selected field the record lacks is None.

    Runs for every record: plain values skip :func:`custom_value` and the message it
    would need if it refused them."""
    wanted = tuple(selected)
    if not wanted:
        return {}
    found = dict(pairs)
    picked: dict[str, CustomValue] = {}
    for name in wanted:
        value = found.get(name)
        picked[name] = (value if type(value) in _PLAIN_CUSTOM
                        else custom_value(value, f"custom field {name!r}"))
    return picked


def loggable_id(value: Any) -> str | None:
    """A rejected item's id, if it is one worth showing in the sync log."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    text = str(value).strip()
    return text if text and len(text) <= 64 and text.isprintable() else None


def _show(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."
