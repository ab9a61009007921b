"""The database's health as ``/healthz`` reports it.

A background task pings the store once a second and keeps the answer, so a
health probe is answered without a database round trip of its own: under heavy
dashboard load every such round trip waits for a thread hand-off and a turn of
the busy event loop, and a probe must stay fast exactly then. A stale answer
(the pinger stalled) is never trusted: the probe then pings itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

INTERVAL = 1.0
"""Seconds between background pings."""


class DatabaseHealth:
    def __init__(self, ping: Callable[[], Awaitable[bool]], *, interval: float = INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ping = ping
        self.interval = interval
        self._clock = clock
        self._ok = False
        self._at: float | None = None
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> bool:
        """The last background answer if it is fresh (two intervals), else a ping now."""
        if self._at is not None and self._clock() - self._at <= 2 * self.interval:
            return self._ok
        return await self._refresh()

    async def _refresh(self) -> bool:
        ok = await self._ping()
        self._ok, self._at = ok, self._clock()
        return ok

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_fresh(), name="psad-database-health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _keep_fresh(self) -> None:
        while True:
            await self._refresh()
            await asyncio.sleep(self.interval)
