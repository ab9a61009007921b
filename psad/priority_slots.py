"""A semaphore whose waiters are let in by priority, first come first served within one.

The HTTP client shares an integration's request slots this way (live ticket
calls before the sync's pages), and the SQLite store its one writer connection
(the run log before bulk page writes).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class PrioritySlots:
    """At most ``limit`` holders; waiters are let in lowest ``priority`` first."""

    def __init__(self, limit: int) -> None:
        self.free = limit
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        """Callers waiting for a slot."""
        return sum(1 for *_, future in self._waiters if not future.done())

    async def acquire(self, priority: int) -> None:
        if self.free > 0:  # a free slot means nobody is waiting: release hands slots over
            self.free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the slot was handed over as the caller went away
            raise

    def release(self) -> None:
        while self._waiters:
            *_, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
                return
        self.free += 1

    @asynccontextmanager
    async def held(self, priority: int) -> AsyncIterator[None]:
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()
