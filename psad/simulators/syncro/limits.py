"""Syncro's per-IP throttle: a fixed window of requests per address."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

from psad.simulators.syncro.config import RATE_LIMIT, RATE_WINDOW


class Served(NamedTuple):
    at: float
    ip: str
    path_qs: str
    throttled: bool
    retry_after: int | None


@dataclass
class RateLimit:
    """Syncro's per-IP request limit: ``limit`` requests per fixed ``window`` seconds."""

    limit: int = RATE_LIMIT
    window: float = RATE_WINDOW
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    history: deque[Served] = field(default_factory=lambda: deque(maxlen=10_000))

    def check(self, ip: str, path_qs: str, now: float | None = None) -> int | None:
        """Seconds the caller must wait (as sent in ``Retry-After``), or None to serve."""
        now = time.time() if now is None else now
        period = int(now // self.window)
        seen_period, count = self.counts.get(ip, (period, 0))
        count = (count if seen_period == period else 0) + 1
        self.counts[ip] = (period, count)
        wait = None if count <= self.limit else max(1, math.ceil((period + 1) * self.window - now))
        self.history.append(Served(now, ip, path_qs, wait is not None, wait))
        return wait

    @property
    def throttled(self) -> list[Served]:
        return [s for s in self.history if s.throttled]
