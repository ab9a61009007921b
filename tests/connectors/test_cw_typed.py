"""ConnectWise assets decoded straight into typed structs read as the dict readers read them.

The client decodes an asset page into :mod:`psad.connectors.connectwise.typed` structs
when every item fits their types, and as plain JSON when one does not. Either way a
page must come out as the dict readers make it: the same records, the same rejections
with the same reasons (so nothing stored changes and bad records are named as before).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psad.connectors import wire
from psad.connectors.base import Page, translate_page
from psad.connectors.connectwise import typed
from psad.connectors.connectwise import wire as cw
from psad.http import parse_json
from psad.model import Entity
from psad.simulators import connectwise as cw_sim
from psad.simulators.connectwise.wire import omit_absent
from psad.simulators.dataset import Dataset

DS = Dataset.generate(3, companies=4, sites_per_company=1, assets=12, contacts=2, tickets=0,
                      boards=1)
RENDERED = [omit_absent(cw_sim.render_configuration(DS, a)) for a in DS.records("assets")]
CAPTIONS = [d.caption for d in DS.asset_fields]
SELECTED = (*CAPTIONS, "Not On Record")

PROPERTY = settings(max_examples=60, deadline=None, database=None)

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=16)
ODD_TEXT = st.sampled_from(["", "   ", "\x00", " a\x00b ", "x" * (wire.MAX_TEXT + 1),
                            " " + "a" * wire.MAX_TEXT + " ", "\u200fRTL", "😀"])
TEXTS = st.none() | TEXT | ODD_TEXT
IDS = st.integers(-(2 ** 70), 2 ** 70) | st.sampled_from([0, 1, 10 ** 64, 10 ** 65])
DATES = st.none() | TEXT | st.sampled_from([
    "2025-01-10T00:00:00Z", "2025-01-10", " 2025-01-10T00:00:00+02:00 ", "/Date(1736467200000)/",
    "/Date(x)/", "0001-01-01T00:00:00Z", "1900-12-31T00:00:00Z", "2025-02-30T00:00:00Z", ""])
REFS = st.none() | st.fixed_dictionaries(
    {}, optional={"id": st.none() | IDS, "name": TEXTS, "identifier": TEXT})
VALUES = (st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70)
          | st.floats(allow_nan=False, allow_infinity=False) | TEXTS | DATES
          | st.lists(st.integers(), max_size=2) | st.dictionaries(TEXT, st.integers(), max_size=2))
CUSTOM_FIELDS = st.none() | st.lists(st.fixed_dictionaries(
    {"caption": st.sampled_from(SELECTED) | TEXT},
    optional={"type": st.none() | st.sampled_from(["Date", "Text", "Number", "Checkbox"]),
              "value": VALUES, "id": st.integers(0, 9)}), max_size=5)
WELL_TYPED = st.fixed_dictionaries({}, optional={
    "id": IDS, "name": TEXTS, "company": REFS, "status": REFS, "type": REFS,
    "manufacturer": REFS, "purchaseDate": DATES, "warrantyExpirationDate": DATES,
    "serialNumber": TEXTS, "osType": TEXTS, "notes": TEXTS, "customFields": CUSTOM_FIELDS,
    "activeFlag": st.booleans() | st.integers(), "modelNumber": VALUES})
"""Changes to a rendered configuration that keep every field psad reads of the type the
structs declare (anything in the fields psad does not read)."""


def as_dicts(text: str) -> Page:
    return translate_page(Entity.ASSET, msgspec.json.decode(text),
                          lambda d: cw._asset(d, SELECTED))


async def as_the_connector_reads(text: str) -> tuple[Page, bool]:
    """The page as the client decodes it for the connector, and whether it came typed."""
    items = await parse_json(text, typed.CONFIGURATIONS)
    return (translate_page(Entity.ASSET, items, lambda d: typed.read_asset(d, SELECTED)),
            all(isinstance(i, typed.Configuration) for i in items))


@PROPERTY
@given(st.lists(st.tuples(st.sampled_from(RENDERED), WELL_TYPED), min_size=1, max_size=4))
async def test_well_typed_pages_decode_typed_and_translate_as_the_dict_readers_do(
        changes: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    text = json.dumps([{**base, **changed} for base, changed in changes])
    page, was_typed = await as_the_connector_reads(text)
    assert was_typed
    assert page == as_dicts(text)


@pytest.mark.parametrize("field, value", [
    ("id", "12"), ("id", 1.0), ("id", True), ("name", 5), ("company", [1]),
    ("status", {"name": 7}), ("purchaseDate", 5), ("customFields", {"Rack": 1}),
    ("customFields", [{"value": 1}]), ("customFields", [5]), ("serialNumber", 12.5)])
async def test_a_page_with_an_ill_typed_item_is_read_by_the_dict_readers(
        field: str, value: Any) -> None:
    items = [dict(item) for item in RENDERED]
    items[3][field] = value
    text = json.dumps(items)
    page, was_typed = await as_the_connector_reads(text)
    assert not was_typed
    assert page == as_dicts(text)


@pytest.mark.parametrize("field, value, typed_page", [
    ("purchaseDate", 5, False), ("company", [1], False), ("name", {"a": 1}, False),
    ("customFields", {"Rack": 1}, False),
    ("name", None, True), ("name", " \x00 ", True), ("purchaseDate", "soon", True),
    ("notes", "n" * (wire.MAX_TEXT + 1), True), ("id", 10 ** 70, True)])
async def test_a_bad_field_rejects_its_record_by_name_and_the_page_is_kept(
        field: str, value: Any, typed_page: bool) -> None:
    items = [dict(item) for item in RENDERED]
    items[3][field] = value
    page, was_typed = await as_the_connector_reads(json.dumps(items))
    assert was_typed is typed_page
    assert len(page.records) == len(RENDERED) - 1
    [rejected] = page.rejected
    assert rejected.reason.startswith(f"{field}:"), rejected.reason
    assert rejected.psa_id == (None if field == "id" else str(items[3]["id"]))
