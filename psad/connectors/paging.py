"""Reading a PSA's list pages as fast as its paging allows.

Chained pages (ConnectWise's ``id>N`` keys, Autotask's ``nextPageUrl``):
each page says where the next one starts, so :func:`chain_ahead` asks for
the next page as soon as a page arrives, before that page is translated and
stored, and the chain waits only on the network. :func:`merged` reads
several chains at once (Autotask's id ranges).

Fan-out (:func:`fan_out`, :func:`fan_out_completed`): per-record calls and
per-parent child reads (Kaseya BMS asset details, ConnectWise bundles) run
concurrently at :attr:`psad.http.RequestPriority.FAN_OUT`, so the chains of
pages they run beside go first when the client's slots are all taken.

Numbered pages (:class:`NumberedListing`): Syncro and HaloPSA number their
pages and say on every page how large the whole list is, so once page 1 has
arrived the rest can be asked for at once and handed on in order (the
shared client's request slots still cap the concurrency). Reading a
list is not a snapshot, whatever the order of the reads: a record deleted
upstream while the list is being read moves every later record one place
forward, and one of them can slip past a page boundary unseen. Every page
reports the list's size, so such a change shows up as pages that disagree
about it; the list is then read once more, and if it changed again the
listing is flagged so that no deletion sweep trusts it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from psad.http import RequestPriority, with_priority

Cursor = TypeVar("Cursor")
T = TypeVar("T")


async def chain_ahead(read: Callable[[Cursor | None], Awaitable[tuple[list[Any], Cursor | None]]],
                      start: Cursor | None = None) -> AsyncIterator[list[Any]]:
    """Items page by page from ``read(cursor)`` → ``(items, next cursor or None)``,
    starting with ``read(start)``; the next page is already on its way while the
    caller handles this one. An empty page ends the chain."""
    pending: asyncio.Task[tuple[list[Any], Cursor | None]] | None = \
        asyncio.ensure_future(read(start))
    try:
        while pending is not None:
            items, cursor = await pending
            pending = None
            if not items:
                return
            if cursor is not None:
                pending = asyncio.ensure_future(read(cursor))
            yield items
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)


async def fan_out(calls: Iterable[Awaitable[T]]) -> list[T]:
    """The results of ``calls``, run concurrently as fan-out, in order; the first
    failure cancels the rest and is raised as is."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(with_priority(RequestPriority.FAN_OUT, call))
                     for call in calls]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def fan_out_completed(calls: Iterable[Awaitable[T]]) -> AsyncIterator[T]:
    """The results of ``calls``, run concurrently as fan-out, as each completes; a
    failure, or the caller leaving early, cancels the rest."""
    tasks = [asyncio.ensure_future(with_priority(RequestPriority.FAN_OUT, call))
             for call in calls]
    try:
        for done in asyncio.as_completed(tasks):
            yield await done
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


_END = object()


async def first_then(first: T, rest: AsyncIterator[T]) -> AsyncIterator[T]:
    """``first``, then the items of ``rest``, whose first item is already being
    fetched while the caller handles ``first``."""
    upcoming: asyncio.Future[Any] = asyncio.ensure_future(anext(rest, _END))
    try:
        yield first
        item = await upcoming
        while item is not _END:
            yield item
            item = await anext(rest, _END)
    finally:
        upcoming.cancel()
        await asyncio.gather(upcoming, return_exceptions=True)
        aclose = getattr(rest, "aclose", None)
        if aclose is not None:
            await aclose()


async def merged(sources: Sequence[AsyncIterator[T]]) -> AsyncIterator[T]:
    """Items of several iterators, each as soon as it comes; the first failure
    stops them all and is raised."""
    pending = {asyncio.ensure_future(anext(source)): source for source in sources}
    try:
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                source = pending.pop(task)
                try:
                    item = task.result()
                except StopAsyncIteration:
                    continue
                pending[asyncio.ensure_future(anext(source))] = source
                yield item
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for source in sources:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()


@dataclass(frozen=True, slots=True)
class NumberedPage:
    """One page as the PSA sent it."""

    items: list[Any]
    size: int | None
    """The list's length (or, failing that, its page count) as this page reports it."""
    last_page: int | None
    """The number of the last page, when the PSA says or it follows from ``size``."""


ReadPage = Callable[[int], Awaitable[NumberedPage]]


def item_id(item: Any) -> int | str | None:
    """An item's ``id`` when it has a usable one (dedupe key of a listing)."""
    ident = item.get("id") if isinstance(item, dict) else None
    return ident if isinstance(ident, (int, str)) and not isinstance(ident, bool) else None


class NumberedListing:
    """Every item of a numbered list, each id once, pages read ``ahead`` at a time.

    Iterate it for lists of items in page order; afterwards :attr:`stable`
    says whether the list held still while it was read (or while it was
    read a second time, when the first reading saw it change).
    """

    def __init__(self, read: ReadPage, *, ahead: int,
                 identity: Callable[[Any], Hashable | None] = item_id) -> None:
        self.read = read
        self.ahead = max(1, ahead)
        self.identity = identity
        self.stable = True
        self.passes = 0
        self._seen: set[Hashable] = set()

    async def __aiter__(self) -> AsyncIterator[list[Any]]:
        for _ in range(2):
            self.passes += 1
            changed = False
            async for items, held_still in self._one_pass():
                changed = changed or not held_still
                fresh = self._fresh(items)
                if fresh:
                    yield fresh
            if not changed:
                self.stable = True
                return
            self.stable = False

    def _fresh(self, items: list[Any]) -> list[Any]:
        fresh = []
        for item in items:
            ident = self.identity(item)
            if ident is not None:
                if ident in self._seen:
                    continue
                self._seen.add(ident)
            fresh.append(item)
        return fresh

    async def _one_pass(self) -> AsyncIterator[tuple[list[Any], bool]]:
        first = await self.read(1)
        if not first.items:
            return
        yield first.items, True
        last = first.last_page
        if last is None and first.size is not None:
            last = math.ceil(first.size / len(first.items))
        if last is None:
            async for found in self._one_by_one():
                yield found
            return
        window: list[asyncio.Task[NumberedPage]] = []
        numbers = iter(range(2, last + 1))
        try:
            for number in numbers:
                window.append(asyncio.ensure_future(self.read(number)))
                if len(window) >= self.ahead:
                    break
            while window:
                page = await window.pop(0)
                for number in numbers:
                    window.append(asyncio.ensure_future(self.read(number)))
                    break
                yield page.items, page.size == first.size
        finally:
            for task in window:
                task.cancel()
            await asyncio.gather(*window, return_exceptions=True)

    async def _one_by_one(self) -> AsyncIterator[tuple[list[Any], bool]]:
        """Without a size to go by: the next page until one comes back empty or all repeats."""
        number = 1
        while True:
            number += 1
            page = await self.read(number)
            if not page.items or not any(self.identity(i) not in self._seen
                                         for i in page.items):
                return
            yield page.items, True
