"""Normalized records ⇄ table rows: flattening, serialising and hashing."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import operator
from collections.abc import Callable
from datetime import date
from json.encoder import encode_basestring
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


_LIST_ENCODER = json.JSONEncoder(ensure_ascii=False)
_OBJECT_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)
"""Built once: ``json.dumps`` with options builds a new encoder per call (a hot path)."""


def _json_list(value: tuple[object, ...]) -> str:
    return _LIST_ENCODER.encode(list(value))


_SCALAR_JSON: dict[type, Callable[[Any], str]] = {
    str: encode_basestring, int: int.__repr__,
    bool: lambda value: "true" if value else "false", type(None): lambda _: "null",
}
"""What ``json`` writes for each plain scalar (``int.__repr__`` is what it uses for ints;
floats and anything else go through the encoder itself)."""


def _json_object(value: dict[str, object]) -> str:
    """``value`` as :data:`_OBJECT_ENCODER` writes it, character for character (the
    content hash covers it). The usual custom fields, string keys and plain scalar
    values, are joined directly: several times cheaper than the encoder, which builds
    its state anew on every call. Anything else goes through the encoder."""
    if not all(type(key) is str for key in value):
        return _OBJECT_ENCODER.encode(value)
    parts = []
    for key in sorted(value):
        write = _SCALAR_JSON.get(type(value[key]))
        if write is None:
            return _OBJECT_ENCODER.encode(value)
        parts.append(f"{encode_basestring(key)}: {write(value[key])}")
    return "{" + ", ".join(parts) + "}"


def _address(value: Address) -> tuple[object, ...]:
    return (value.line1, value.line2, value.city, value.region, value.postal_code,
            value.country)


_CONVERT: dict[type, Callable[[Any], object]] = {
    bool: int, date: date.isoformat, tuple: _json_list, dict: _json_object,
}
_PLAIN = frozenset({str, int, float, type(None)})


_GETTERS: dict[type[Record], Callable[[Record], tuple[object, ...]]] = {}


def _getter(record_type: type[Record]) -> Callable[[Record], tuple[object, ...]]:
    getter = _GETTERS.get(record_type)
    if getter is None:
        getter = _GETTERS[record_type] = operator.attrgetter(*record_type.value_names())
    return getter


def to_row(record: Record) -> tuple[object, ...]:
    """The record's content cells, in :func:`columns` order (a hot path: kept lean)."""
    cells: list[object] = []
    append = cells.append
    for value in _getter(type(record))(record):
        kind = type(value)
        if kind in _PLAIN:
            append(value)
        elif isinstance(value, Address):
            cells.extend(_address(value))
        elif (convert := _CONVERT.get(kind)) is not None:
            append(convert(value))
        else:
            raise TypeError(f"cannot store {kind.__name__}")
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
