"""The selected custom fields of a record, as every connector picks them."""

from __future__ import annotations

import pytest

from psad.connectors.wire import MAX_TEXT, BadRecord, pick_custom


def test_selected_fields_keep_plain_values_and_missing_ones_are_none() -> None:
    pairs = [("Backup", True), ("Seats", 3), ("Cost", 1.5), ("Rack", None), ("Other", "x"),
             ("Flag", False), ("Zero", 0)]
    picked = pick_custom(pairs, ("Backup", "Seats", "Cost", "Rack", "Flag", "Zero", "Absent"))
    assert picked == {"Backup": True, "Seats": 3, "Cost": 1.5, "Rack": None, "Flag": False,
                      "Zero": 0, "Absent": None}
    assert [type(v) for v in picked.values()] == [bool, int, float, type(None), bool, int,
                                                  type(None)]


def test_text_values_lose_nul_characters() -> None:
    assert pick_custom([("Rack", "R\x001")], ["Rack"]) == {"Rack": "R1"}


@pytest.mark.parametrize("value", [{"nested": 1}, [1, 2], "x" * (MAX_TEXT + 1)])
def test_an_unusable_value_rejects_the_record_naming_the_field(value: object) -> None:
    with pytest.raises(BadRecord, match="custom field 'Rack'"):
        pick_custom([("Rack", value)], ["Rack"])


def test_nothing_selected_picks_nothing() -> None:
    assert pick_custom([("Rack", "R1")], ()) == {}
