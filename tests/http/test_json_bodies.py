"""Response bodies decoded as JSON, small ones on the loop and large ones in a thread."""

from __future__ import annotations

import json

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
