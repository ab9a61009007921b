"""Normalized records ⇄ table rows: flattening, serialising and hashing."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import operator
from collections.abc import Callable
from datetime import date
from json.encoder import encode_basestring
from typing import Any, get_type_hints

from psad.model import Address, CustomFields, Entity, Record

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
    parts = []
    for key in sorted(value):
        item = value[key]
        write = _SCALAR_JSON.get(type(item))
        if write is None or type(key) is not str:
            return _OBJECT_ENCODER.encode(value)
        parts.append(f"{encode_basestring(key)}: {write(item)}")
    return "{" + ", ".join(parts) + "}"


def _day(value: object) -> object:
    """A date in ISO form; anything else (None) as it is."""
    return value.isoformat() if type(value) is date else value


_STORED_AS: dict[object, Callable[[Any], object]] = {
    bool: int, date | None: _day, tuple[str, ...]: _json_list, CustomFields: _json_object}
"""How a record field of each declared type is written to its cell."""
_STORED_AS_IS = frozenset({str, str | None, int | None})


RowMaker = Callable[[Record], tuple[object, ...]]


def _row_maker(record_type: type[Record]) -> RowMaker:
    """``to_row`` for one record type, planned once from its fields' declared types: one
    ``attrgetter`` for every cell (an address's parts included), then only the cells
    that need converting are converted."""
    hints = get_type_hints(record_type)
    names: list[str] = []
    converts: list[tuple[int, Callable[[Any], object]]] = []
    for name in record_type.value_names():
        hint = hints[name]
        if hint is Address:
            names.extend(f"{name}.{part.name}" for part in dataclasses.fields(Address))
            continue
        if hint in _STORED_AS:
            converts.append((len(names), _STORED_AS[hint]))
        elif hint not in _STORED_AS_IS:
            raise TypeError(f"{record_type.__name__}.{name}: no cell for {hint}")
        names.append(name)
    cells = operator.attrgetter(*names)

    def to_row(record: Record) -> tuple[object, ...]:
        row = list(cells(record))
        for index, convert in converts:
            row[index] = convert(row[index])
        return tuple(row)
    return to_row


_ROW_MAKERS: dict[type[Record], RowMaker] = {
    entity.record_type: _row_maker(entity.record_type) for entity in Entity}


def to_row(record: Record) -> tuple[object, ...]:
    """The record's content cells, in :func:`columns` order (a hot path: kept lean)."""
    return _ROW_MAKERS[type(record)](record)


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
