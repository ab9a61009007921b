"""Pages fetched ahead of the store, and pages that waited written together."""

from __future__ import annotations

import asyncio
from typing import Any

from psad.connectors.base import Page
from psad.engine import joined, prefetch
from psad.model import CompanyStatus, Entity, Rejected


async def numbers(count: int, *, fail_after: int | None = None) -> Any:
    for n in range(count):
        if n == fail_after:
            raise RuntimeError("page broke")
        await asyncio.sleep(0)
        yield n


async def test_a_slow_consumer_gets_what_waited_in_one_batch_in_order() -> None:
    batches = []
    async for batch in prefetch(numbers(12), depth=4):
        batches.append(batch)
        await asyncio.sleep(0.01)  # the store writing
    assert [n for b in batches for n in b] == list(range(12))
    assert max(len(b) for b in batches) > 1 and all(len(b) <= 4 for b in batches)


async def test_a_fast_consumer_gets_items_one_at_a_time() -> None:
    batches = [batch async for batch in prefetch(numbers(5), depth=4)]
    assert [n for b in batches for n in b] == list(range(5))


async def test_items_before_a_failure_are_handed_on_then_it_is_raised() -> None:
    got: list[int] = []
    try:
        async for batch in prefetch(numbers(10, fail_after=3), depth=4):
            got.extend(batch)
            await asyncio.sleep(0.01)
    except RuntimeError as err:
        assert str(err) == "page broke"
    else:
        raise AssertionError("the failure was swallowed")
    assert got == [0, 1, 2]


def test_pages_written_together_keep_every_record_rejection_and_flag() -> None:
    a = Page([CompanyStatus(psa_id="1", name="A", is_default=True)])
    b = Page([CompanyStatus(psa_id="2", name="B", is_default=False)],
             [Rejected(Entity.COMPANY_STATUS, "3", "name: missing")], listing_changed=True)
    page = joined([a, b])
    assert [r.psa_id for r in page.records] == ["1", "2"]
    assert [r.psa_id for r in page.rejected] == ["3"] and page.listing_changed
    assert joined([a]) is a
