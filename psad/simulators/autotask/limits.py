"""The database's shared limits: the hourly request threshold and the per-endpoint thread limit."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable

from psad.simulators.autotask.config import Wire


Clock = Callable[[], float]


class RequestBudget:
    """The rolling-window request threshold of one Autotask database."""

    def __init__(self, limit: int, window: float, clock: Clock) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.stamps: deque[float] = deque()
        self.rejected = 0

    def count(self) -> int:
        cutoff = self.clock() - self.window
        while self.stamps and self.stamps[0] <= cutoff:
            self.stamps.popleft()
        return len(self.stamps)

    def admit(self) -> bool:
        if self.count() >= self.limit:
            self.rejected += 1
            return False
        self.stamps.append(self.clock())
        return True

    def add_external(self, requests: int) -> None:
        """Requests made by other integrations of the same database, now."""
        now = self.clock()
        self.stamps.extend([now] * requests)

    def share(self) -> float:
        return self.count() / self.limit if self.limit else 1.0

    def info(self) -> Wire:
        return {"externalRequestThreshold": self.limit,
                "requestThresholdTimeframe": max(1, round(self.window / 60)),
                "currentTimeframeRequestCount": self.count()}


class ThreadGate:
    """Concurrent requests per (tracking identifier, object endpoint)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active: Counter[tuple[str, str]] = Counter()
        self.peak: Counter[str] = Counter()
        self.rejected = 0

    def enter(self, code: str, endpoint: str) -> bool:
        key = (code, endpoint)
        if self.active[key] >= self.limit:
            self.rejected += 1
            return False
        self.active[key] += 1
        self.peak[endpoint] = max(self.peak[endpoint], self.active[key])
        return True

    def leave(self, code: str, endpoint: str) -> None:
        self.active[(code, endpoint)] -= 1
