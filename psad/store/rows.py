"""Normalized records ⇄ table rows: flattening, serialising and hashing."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date
from typing import Any

from psad.model import Address, Entity, Record

ADDRESS_COLUMNS = tuple(f"address_{f.name}" for f in dataclasses.fields(Address))


def columns(entity: Entity) -> tuple[str, ...]:
    """The content columns of an entity's table, in row order."""
    out: list[str] = []
    for name, ftype in _fields(entity):
        if ftype is Address:
            out.extend(ADDRESS_COLUMNS)
        else:
            out.append(name)
    return tuple(out)


def _fields(entity: Entity) -> list[tuple[str, Any]]:
    return [(name, Address if name == "address" else None)
            for name in entity.record_type.value_names()]


def _cell(value: object) -> object:
    if value is None or isinstance(value, (str, int, float)):
        return value  # bool is an int
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return json.dumps(list(value), ensure_ascii=False)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    raise TypeError(f"cannot store {type(value).__name__}")


def to_row(record: Record) -> tuple[object, ...]:
    """The record's content cells, in :func:`columns` order."""
    cells: list[object] = []
    for value in record.values():
        if isinstance(value, Address):
            cells.extend(_cell(v) for v in dataclasses.astuple(value))
        elif isinstance(value, bool):
            cells.append(int(value))
        else:
            cells.append(_cell(value))
    return tuple(cells)


def content_hash(row: tuple[object, ...]) -> str:
    """A stable digest of a row's content, for cheap change detection."""
    return hashlib.blake2b(repr(row).encode(), digest_size=12).hexdigest()


def from_row(entity: Entity, data: dict[str, Any]) -> dict[str, Any]:
    """A stored row as plain JSON-ready values (JSON columns decoded, flags as bools)."""
    out = dict(data)
    for key in ("custom_fields", "types"):
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    for key in ("active", "primary", "is_default", "closed", "out_of_scope"):
        if key in out and out[key] is not None:
            out[key] = bool(out[key])
    if any(c in out for c in ADDRESS_COLUMNS):
        out["address"] = {c.removeprefix("address_"): out.pop(c) for c in ADDRESS_COLUMNS}
    out.pop("content_hash", None)
    return out
