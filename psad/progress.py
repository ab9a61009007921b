"""Live progress of a running sync: counts so far, the PSA's total, percent, time left.

The engine keeps one :class:`RunProgress` per run (the queue's running entry
holds it, so the API, dashboard and metrics read it without touching the
store). A connector that learns how long a list is (ConnectWise ``/count``,
Autotask's count query, HaloPSA ``record_count``, Syncro ``total_entries``,
Kaseya BMS ``totalRecords``) calls :func:`report_total`; the engine has set
the entity being fetched in a context variable, so connectors need no
reference to it, and a call outside a sync is a no-op. In the same way the
parsers note which custom fields each asset and contact carries
(:func:`note_custom_fields`), so the set-up page can offer them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from psad.model import SYNC_ORDER


@dataclass(slots=True)
class EntityProgress:
    """One entity of a running sync."""

    entity: str
    started: float = field(default_factory=time.monotonic)
    pages: int = 0
    fetched: int = 0
    """Records received from the PSA (good and malformed)."""
    written: int = 0
    """Records applied to the store (created, updated or unchanged)."""
    rejected: int = 0
    total: int | None = None
    """How many records the PSA said the list holds, when it says."""
    done: bool = False
    custom_fields: Counter[str] = field(default_factory=Counter)
    """How many of the records fetched carry a value in each custom field."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    """Pages are parsed in worker threads; the counter is shared."""

    @property
    def percent(self) -> float | None:
        if self.done:
            return 100.0
        if not self.total:
            return None
        return round(min(100.0, 100.0 * self.fetched / self.total), 1)

    def seconds_left(self, now: float | None = None) -> float | None:
        """Time left at the rate so far; None until there is a total and a rate."""
        if self.done:
            return 0.0
        if not self.total or not self.fetched:
            return None
        elapsed = (time.monotonic() if now is None else now) - self.started
        remaining = max(0, self.total - self.fetched)
        return round(elapsed / self.fetched * remaining, 1)

    def as_dict(self) -> dict[str, Any]:
        return {"pages": self.pages, "fetched": self.fetched, "written": self.written,
                "rejected": self.rejected, "total": self.total, "percent": self.percent,
                "seconds_left": self.seconds_left(), "done": self.done}


@dataclass(slots=True)
class RunProgress:
    """Every entity of one run that has started, in the order they started."""

    entities: dict[str, EntityProgress] = field(default_factory=dict)

    def start(self, entity: str) -> EntityProgress:
        progress = self.entities[entity] = EntityProgress(entity)
        return progress

    def as_dict(self) -> dict[str, Any]:
        """Totals over the entities plus each entity's own figures.

        ``percent`` here is the share of the run's entities done (an entity in
        progress counts by its own percent, or not at all when it has no total).
        """
        parts = self.entities.values()
        share = sum((p.percent or 0.0) / 100.0 for p in parts)
        return {
            "fetched": sum(p.fetched for p in parts),
            "written": sum(p.written for p in parts),
            "rejected": sum(p.rejected for p in parts),
            "entities_done": sum(p.done for p in parts),
            "entities_total": len(SYNC_ORDER),
            "percent": round(100.0 * share / len(SYNC_ORDER), 1),
            "entities": {name: p.as_dict() for name, p in self.entities.items()},
        }


_CURRENT: ContextVar[EntityProgress | None] = ContextVar("psad_progress", default=None)


@contextmanager
def fetching(progress: EntityProgress) -> Iterator[None]:
    """Route :func:`report_total` calls made in this context (and in tasks it starts)."""
    token = _CURRENT.set(progress)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def report_total(total: int | None) -> None:
    """The PSA said how many records the list being fetched holds."""
    progress = _CURRENT.get()
    if progress is not None and total is not None and total >= 0:
        progress.total = total


_PAGE_NOTES: ContextVar[list[str] | None] = ContextVar("psad_page_notes", default=None)


def note_custom_fields(names: Iterable[str]) -> None:
    """One record carries a value in each of these custom fields."""
    noted = _PAGE_NOTES.get()
    if noted is not None:
        noted.extend(set(names))
        return
    progress = _CURRENT.get()
    if progress is not None:
        found = set(names)
        with progress._lock:
            progress.custom_fields.update(found)


@contextmanager
def noting_per_page() -> Iterator[None]:
    """Custom fields noted while one page is translated reach the progress together at
    its end: one lock and one counter update for the page instead of one per record."""
    progress = _CURRENT.get()
    if progress is None:
        yield
        return
    noted: list[str] = []
    token = _PAGE_NOTES.set(noted)
    try:
        yield
    finally:
        _PAGE_NOTES.reset(token)
        with progress._lock:
            progress.custom_fields.update(noted)


def progress_line(progress: Mapping[str, Any]) -> str:
    """One line about a run in progress, from :meth:`RunProgress.as_dict` (or its JSON)."""
    head = (f"{progress['entities_done']}/{progress['entities_total']} entities done, "
            f"{progress['fetched']:,} fetched, {progress['written']:,} written, "
            f"{progress['rejected']:,} rejected")
    active = []
    for name, part in progress["entities"].items():
        if part["done"]:
            continue
        text = f"{name} {part['fetched']:,}"
        if part["total"] is not None:
            text += f" of {part['total']:,}"
        if part["percent"] is not None:
            text += f" ({part['percent']:.0f}%"
            text += f", about {_seconds(part['seconds_left'])} left)" \
                if part["seconds_left"] is not None else ")"
        active.append(text)
    return head + (" | " + "; ".join(active) if active else "")


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 90 else f"{value / 60:.0f} min"
