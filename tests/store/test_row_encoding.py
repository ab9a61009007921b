"""Rows as the store writes them: the custom-field JSON and the content hash.

The custom-field cell is part of the stored data and of the content hash, so its
text must stay exactly what ``json.dumps(..., ensure_ascii=False, sort_keys=True,
default=str)`` writes, or every stored row would read as changed after an upgrade.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from psad.model import RECORD_TYPES, Address, Asset, Contact, Record
from psad.store.rows import columns, content_hash, to_row

PROPERTY = settings(max_examples=300, deadline=None, database=None)

SCALARS = st.one_of(st.text(), st.integers(min_value=-2**80, max_value=2**80), st.booleans(),
                    st.none(), st.floats(allow_nan=True, allow_infinity=True))


def stored_custom_fields(custom: dict[str, Any]) -> object:
    asset = Asset(psa_id="1", company_psa_id="2", name="PC", custom_fields=custom)
    return to_row(asset)[columns(asset.entity).index("custom_fields")]


def legacy_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


@PROPERTY
@given(st.dictionaries(st.text(), SCALARS, max_size=6))
def test_custom_fields_are_stored_as_json_dumps_writes_them(custom: dict[str, Any]) -> None:
    assert stored_custom_fields(custom) == legacy_json(custom)


def test_unusual_custom_values_are_stored_as_json_dumps_writes_them() -> None:
    for custom in ({}, {"Last Audit": date(2025, 1, 10)}, {"nested": {"b": 1, "a": [1, "x"]}},
                   {"Rack": 'O\'Brien "Co" \\ \x00 \u2028 😀 日本'}, {"f": 1.5, "n": float("nan")},
                   {"b": True, "a": None, "c": 2**70}):
        assert stored_custom_fields(custom) == legacy_json(custom), custom


def test_the_order_custom_fields_arrive_in_does_not_change_the_hash() -> None:
    one = Asset(psa_id="1", company_psa_id=None, name="PC", custom_fields={"a": 1, "b": "x"})
    other = dataclasses.replace(one, custom_fields={"b": "x", "a": 1})
    assert content_hash(to_row(one)) == content_hash(to_row(other))


def different(value: object) -> object:
    """A value of the same kind as ``value`` that differs from it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return value + "!"
    if isinstance(value, date):
        return date(value.year + 1, value.month, value.day)
    if isinstance(value, Address):
        return dataclasses.replace(value, city=(value.city or "") + "!")
    if isinstance(value, dict):
        return {**value, "Backup": not value.get("Backup")}
    if value is None:
        return "set"
    raise AssertionError(f"no different value for {value!r}")


RECORDS: tuple[Record, ...] = (
    Asset(psa_id="7", company_psa_id="2", name="PC-1", status="Active", type="Laptop",
          purchase_date=date(2024, 1, 2), warranty_expiration=None, serial_number="SN1",
          os_type="Windows 11", notes="desk", manufacturer="Dell",
          custom_fields={"Backup": True, "Rack": None}),
    Contact(psa_id="8", company_psa_id="2", first_name="Ann", last_name="Lee", type=None,
            title="CTO", email="ann@example.com", phone=None,
            address=Address(line1="1 Main St", city="Springfield"), active=True,
            custom_fields={"VIP": "yes"}),
)


def test_the_hash_is_equal_when_nothing_changed_and_changes_with_every_field() -> None:
    for record in RECORDS:
        same = dataclasses.replace(record)
        assert same is not record
        assert content_hash(to_row(same)) == content_hash(to_row(record))
        for name in record.value_names():
            changed = dataclasses.replace(record, **{name: different(getattr(record, name))})
            assert content_hash(to_row(changed)) != content_hash(to_row(record)), name


def spec_row(record: Record) -> tuple[object, ...]:
    """A row as stored since the first schema: the record's values in field order, an
    address as its six parts, flags as 0/1, dates in ISO form, type lists and custom
    fields as JSON."""
    cells: list[object] = []
    for name in record.value_names():
        value = getattr(record, name)
        if isinstance(value, Address):
            cells.extend(getattr(value, f.name) for f in dataclasses.fields(Address))
        elif isinstance(value, bool):
            cells.append(int(value))
        elif isinstance(value, date):
            cells.append(value.isoformat())
        elif isinstance(value, tuple):
            cells.append(json.dumps(list(value), ensure_ascii=False))
        elif isinstance(value, dict):
            cells.append(legacy_json(value))
        else:
            cells.append(value)
    return tuple(cells)


def with_dict_fields(record: Record) -> Record:
    """Records hold their custom fields in a dict (hypothesis makes any Mapping)."""
    if isinstance(record, (Asset, Contact)):
        return dataclasses.replace(record, custom_fields=dict(record.custom_fields))
    return record


@PROPERTY
@given(st.sampled_from(list(RECORD_TYPES.values())).flatmap(st.from_type).map(with_dict_fields))
def test_every_record_type_is_stored_as_it_always_was(record: Record) -> None:
    row = to_row(record)
    assert row == spec_row(record)
    assert len(row) == len(columns(record.entity))
    assert [type(cell) for cell in row] == [type(cell) for cell in spec_row(record)]
