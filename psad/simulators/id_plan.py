"""A list query split for the simulators: an id range to bisect and what else must match.

ConnectWise ``conditions`` and Autotask filters both often bound ``id`` (the
way clients page by key); the simulators bisect their id-sorted tables for
that range and test only the rows inside it against the rest.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Predicate = Callable[[Any], bool]
Bound = tuple[int | None, int | None]
"""Lowest and highest id a term allows (None: unbounded on that side)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """Conditions split into an id range (for bisect) and a residual predicate."""

    low: int | None = None
    high: int | None = None
    residual: Predicate | None = None

    def bounds(self, ids: Sequence[int]) -> tuple[int, int]:
        start = 0 if self.low is None else bisect_left(ids, self.low)
        stop = len(ids) if self.high is None else bisect_right(ids, self.high)
        return start, max(start, stop)


def narrowed(bounds: Iterable[Bound]) -> Bound:
    """The id range inside every one of ``bounds``."""
    low: int | None = None
    high: int | None = None
    for term_low, term_high in bounds:
        if term_low is not None:
            low = term_low if low is None else max(low, term_low)
        if term_high is not None:
            high = term_high if high is None else min(high, term_high)
    return low, high
