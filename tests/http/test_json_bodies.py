"""Response bodies decoded as JSON, small ones on the loop and large ones in a thread."""

from __future__ import annotations

import json

import msgspec
import pytest

from psad.http import OFFLOAD_BYTES, parse_json

BODY = [{"id": 2**70, "name": "Ünïcødé \"Ltd\" \u2028 😀", "rate": 1.25, "active": True,
         "parent": None, "tags": ["a", {"b": []}]}]


@pytest.mark.parametrize("copies", [1, OFFLOAD_BYTES // 50])
async def test_bodies_decode_as_the_json_module_reads_them(copies: int) -> None:
    text = json.dumps(BODY * copies, ensure_ascii=copies == 1)
    assert await parse_json(text) == json.loads(text)


async def test_an_empty_body_is_none() -> None:
    assert await parse_json(" \r\n") is None


@pytest.mark.parametrize("text", ["[1,", "{'a': 1}", "NaN", "[1] x", "x" * (OFFLOAD_BYTES + 1)])
async def test_a_body_that_is_not_json_is_a_value_error(text: str) -> None:
    """The client retries a ValueError as a broken body and then names the response."""
    with pytest.raises(ValueError):
        await parse_json(text)


class Point(msgspec.Struct):
    x: int


POINTS = msgspec.json.Decoder(list[Point])


@pytest.mark.parametrize("copies", [1, OFFLOAD_BYTES // 8])
async def test_a_decoder_gives_typed_structs_when_the_body_fits_its_types(copies: int) -> None:
    text = json.dumps([{"x": 1, "unused": [2]}] * copies)
    assert await parse_json(text, POINTS) == [Point(1)] * copies


@pytest.mark.parametrize("text", ['[{"x": "1"}]', '[{"x": 1}, 5]', '{"x": 1}', '[{"y": 1}]'])
async def test_a_body_that_does_not_fit_the_decoder_is_decoded_as_plain_json(text: str) -> None:
    """The connector reads such a page with its dict readers, which name each bad record."""
    assert await parse_json(text, POINTS) == json.loads(text)


@pytest.mark.parametrize("text", ["[1,", '[{"x": 1}] x', "NaN"])
async def test_a_body_that_is_not_json_is_a_value_error_with_a_decoder_too(text: str) -> None:
    with pytest.raises(ValueError):
        await parse_json(text, POINTS)
