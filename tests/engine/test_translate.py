"""Translating a page: malformed items rejected alone, full pages off the event loop."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from psad.connectors.base import OFFLOAD_ITEMS, translated
from psad.connectors.wire import BadRecord
from psad.model import CompanyStatus, Entity


def parse_on(threads: set[int]) -> Any:
    def parse(d: Mapping[str, Any]) -> CompanyStatus:
        threads.add(threading.get_ident())
        if d.get("name") is None:
            raise BadRecord("name: missing")
        return CompanyStatus(psa_id=str(d["id"]), name=d["name"], is_default=False)
    return parse


async def test_a_full_page_is_translated_off_the_event_loop() -> None:
    threads: set[int] = set()
    items = [{"id": i, "name": f"s{i}"} for i in range(OFFLOAD_ITEMS)] + [{"id": "x"}]
    page = await translated(Entity.COMPANY_STATUS, items, parse_on(threads))
    assert len(page.records) == OFFLOAD_ITEMS
    assert [(r.psa_id, r.reason) for r in page.rejected] == [("x", "name: missing")]
    assert threading.get_ident() not in threads


async def test_a_small_page_is_translated_in_place() -> None:
    threads: set[int] = set()
    page = await translated(Entity.COMPANY_STATUS, [{"id": 1, "name": "Active"}],
                            parse_on(threads))
    assert [r.name for r in page.records] == ["Active"] and threads == {threading.get_ident()}
