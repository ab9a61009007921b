"""Pages read ahead and several at a time, and fan-out: order, concurrency, lists that change."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from psad.connectors.paging import (
    NumberedListing,
    NumberedPage,
    chain_ahead,
    fan_out,
    fan_out_completed,
    first_then,
    merged,
)
from psad.http import REQUEST_PRIORITY, RequestPriority


class Upstream:
    """A list of ids served ``per_page`` at a time, like Syncro or Halo, with hooks."""

    def __init__(self, ids: list[int], per_page: int, *, say_size: bool = True,
                 repeat_past_end: bool = False) -> None:
        self.ids = ids
        self.per_page = per_page
        self.say_size = say_size
        self.repeat_past_end = repeat_past_end
        self.reads: list[int] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.cancelled = 0
        self.before_read: Callable[[int], None] = lambda number: None

    async def read(self, number: int) -> NumberedPage:
        self.reads.append(number)
        self.before_read(number)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.001 * (5 - number % 5))  # later pages may answer first
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
        start = (number - 1) * self.per_page
        if start >= len(self.ids) and self.repeat_past_end and self.ids:
            start = ((len(self.ids) - 1) // self.per_page) * self.per_page
        items: list[Any] = [{"id": i} for i in self.ids[start:start + self.per_page]]
        size = len(self.ids) if self.say_size else None
        return NumberedPage(items, size, None)


def identity(item: Any) -> Any:
    return item.get("id")


async def read_all(listing: NumberedListing) -> list[list[int]]:
    return [[i["id"] for i in items] async for items in listing]


async def test_pages_come_in_order_with_up_to_ahead_read_at_once() -> None:
    upstream = Upstream(list(range(1, 96)), 10)
    listing = NumberedListing(upstream.read, ahead=3)
    pages = await read_all(listing)
    assert [i for page in pages for i in page] == list(range(1, 96))
    assert sorted(upstream.reads) == list(range(1, 11))  # ten pages, none past the end
    assert upstream.most_in_flight == 3
    assert listing.stable and listing.passes == 1


async def test_an_empty_list_is_one_read() -> None:
    upstream = Upstream([], 10)
    assert await read_all(NumberedListing(upstream.read, ahead=4, identity=identity)) == []
    assert upstream.reads == [1]


async def test_a_deletion_while_reading_is_caught_and_the_list_read_again() -> None:
    """Deleting id 3 after page 1 moves id 11 onto page 1: one pass alone misses it."""
    upstream = Upstream(list(range(1, 31)), 10)

    def delete_after_page_one(number: int) -> None:
        if number == 2 and 3 in upstream.ids:
            upstream.ids.remove(3)

    upstream.before_read = delete_after_page_one
    listing = NumberedListing(upstream.read, ahead=1, identity=identity)
    seen = {i for page in await read_all(listing) for i in page}
    assert seen == set(range(1, 31))  # 11 found on the second pass, 3 from the first
    assert listing.stable and listing.passes == 2


async def test_a_list_that_keeps_changing_is_flagged_unstable() -> None:
    upstream = Upstream(list(range(1, 31)), 10)
    next_new = iter(range(100, 200))

    def grow(number: int) -> None:
        if number == 2:
            upstream.ids.append(next(next_new))

    upstream.before_read = grow
    listing = NumberedListing(upstream.read, ahead=2, identity=identity)
    await read_all(listing)
    assert not listing.stable and listing.passes == 2


async def test_without_a_size_pages_are_read_one_by_one_until_a_repeat() -> None:
    upstream = Upstream(list(range(1, 26)), 10, say_size=False, repeat_past_end=True)
    listing = NumberedListing(upstream.read, ahead=4, identity=identity)
    pages = await read_all(listing)
    assert [i for page in pages for i in page] == list(range(1, 26))
    assert upstream.reads == [1, 2, 3, 4]  # page 4 repeats page 3: the end


async def test_a_failed_page_stops_the_listing_and_cancels_the_reads_in_flight() -> None:
    upstream = Upstream(list(range(1, 101)), 10)
    real = upstream.read
    never = asyncio.Event()
    held: list[int] = []
    cancelled: list[int] = []

    async def read(number: int) -> NumberedPage:
        if number == 3:
            raise RuntimeError("page 3 broke")
        if number > 3:  # still on its way when page 3 fails, however slow the machine
            held.append(number)
            try:
                await never.wait()
            except asyncio.CancelledError:
                cancelled.append(number)
                raise
        return await real(number)

    listing = NumberedListing(read, ahead=4, identity=identity)
    try:
        await read_all(listing)
    except RuntimeError as err:
        assert str(err) == "page 3 broke"
    else:
        raise AssertionError("the failure was swallowed")
    assert held and sorted(cancelled) == sorted(held)  # every read in flight was cancelled
    assert upstream.in_flight == 0


async def test_a_chain_asks_for_its_next_page_while_the_caller_handles_this_one() -> None:
    events: list[str] = []

    async def read(cursor: int | None) -> tuple[list[Any], int | None]:
        number = (cursor or 0) + 1
        events.append(f"read {number}")
        await asyncio.sleep(0.01)
        return [{"id": number}], (number if number < 3 else None)

    async for items in chain_ahead(read):
        events.append(f"handle {items[0]['id']}")
        await asyncio.sleep(0.02)  # translating and storing the page
        events.append(f"handled {items[0]['id']}")
    assert events.index("read 2") < events.index("handled 1")
    assert events.index("read 3") < events.index("handled 2")
    assert events.count("read 4") == 0  # the last page said there is no next one


async def test_a_chain_left_early_cancels_the_page_it_asked_for() -> None:
    cancelled: list[int] = []

    async def read(cursor: int | None) -> tuple[list[Any], int | None]:
        number = (cursor or 0) + 1
        try:
            await asyncio.sleep(0.01 if number == 1 else 1)
        except asyncio.CancelledError:
            cancelled.append(number)
            raise
        return [{"id": number}], number

    pages = chain_ahead(read)
    async for _ in pages:
        await asyncio.sleep(0.05)  # page 2 is on its way
        break
    await pages.aclose()
    assert cancelled == [2]


async def test_merged_hands_on_each_sources_items_as_they_come() -> None:
    async def source(name: str, delay: float, count: int) -> Any:
        for n in range(count):
            await asyncio.sleep(delay)
            yield f"{name}{n}"

    got = [item async for item in merged([source("slow", 0.03, 2), source("fast", 0.01, 3)])]
    assert sorted(got) == ["fast0", "fast1", "fast2", "slow0", "slow1"]
    assert got.index("fast2") < got.index("slow1")  # not one source after the other


async def test_merged_stops_every_source_when_one_fails() -> None:
    stopped: list[str] = []

    async def endless() -> Any:
        try:
            while True:
                await asyncio.sleep(0.005)
                yield "tick"
        finally:
            stopped.append("endless")

    async def broken() -> Any:
        await asyncio.sleep(0.02)
        raise RuntimeError("range 2 broke")
        yield  # an async generator

    try:
        async for _ in merged([endless(), broken()]):
            pass
    except RuntimeError as err:
        assert str(err) == "range 2 broke"
    else:
        raise AssertionError("the failure was swallowed")
    assert stopped == ["endless"]


async def test_first_then_starts_the_rest_before_the_first_is_handled() -> None:
    events: list[str] = []

    async def rest() -> Any:
        for n in (2, 3):
            events.append(f"read {n}")
            await asyncio.sleep(0.01)
            yield n

    async for item in first_then(1, rest()):
        events.append(f"handle {item}")
        await asyncio.sleep(0.02)
        events.append(f"handled {item}")
    assert events.index("read 2") < events.index("handled 1")
    assert [e for e in events if e.startswith("handle ")] == ["handle 1", "handle 2", "handle 3"]


async def test_first_then_left_early_closes_the_rest() -> None:
    closed: list[str] = []

    async def rest() -> Any:
        try:
            await asyncio.sleep(1)
            yield 2
        finally:
            closed.append("rest")

    items = first_then(1, rest())
    async for _ in items:
        await asyncio.sleep(0.01)  # the rest has started
        break
    await items.aclose()
    assert closed == ["rest"]


class Calls:
    """Calls that finish after ``delays`` event-loop turns; records priority and cancels."""

    def __init__(self) -> None:
        self.priorities: list[RequestPriority] = []
        self.cancelled: list[int] = []

    async def call(self, n: int, turns: int, fail: bool = False) -> int:
        self.priorities.append(REQUEST_PRIORITY.get())
        try:
            for _ in range(turns):
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            self.cancelled.append(n)
            raise
        if fail:
            raise LookupError(f"call {n} failed")
        return n


async def test_fan_out_answers_in_order_at_fan_out_priority() -> None:
    calls = Calls()
    assert await fan_out(calls.call(n, turns) for n, turns in enumerate([5, 1, 3])) == [0, 1, 2]
    assert calls.priorities == [RequestPriority.FAN_OUT] * 3


async def test_fan_out_raises_the_first_failure_as_is_and_cancels_the_rest() -> None:
    calls = Calls()
    with pytest.raises(LookupError, match="call 1 failed"):
        await fan_out([calls.call(0, 50), calls.call(1, 1, fail=True), calls.call(2, 50)])
    assert sorted(calls.cancelled) == [0, 2]


async def test_fan_out_completed_answers_as_calls_finish_and_cancels_when_left() -> None:
    calls = Calls()
    finished = fan_out_completed(calls.call(n, turns) for n, turns in enumerate([9, 1, 5, 50]))
    assert [await anext(finished), await anext(finished)] == [1, 2]
    await finished.aclose()
    assert sorted(calls.cancelled) == [0, 3]
    assert calls.priorities == [RequestPriority.FAN_OUT] * 4
