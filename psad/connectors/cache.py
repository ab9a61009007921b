"""The caches connectors keep between calls: lookup lists for a while, and bounded maps.

Lookup lists (picklists, status and priority names, countries) change rarely
and are asked for by every page of a sync and every live ticket list, so a
connector keeps them in a :class:`TtlCache` for minutes. Per-record facts a
later read may need again (Kaseya BMS location addresses) go in an
:class:`LruCache` that never grows past its size.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar, cast

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
V = TypeVar("V")


class TtlCache:
    """Loaded values kept ``ttl`` seconds, by key.

    Callers that ask while a value is loading share the one load (``fresh``
    ones too: entities' lanes start together and all want this run's answer);
    a failed or cancelled load is not kept. A caller that goes away does not
    cancel a load others share; :meth:`close` cancels what is still loading.
    """

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[Hashable, tuple[float, asyncio.Future[Any]]] = {}

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]], *,
                  fresh: bool = False) -> T:
        """The value under ``key``, from ``load()`` when missing, expired, failed, or
        (``fresh``) loaded before this call."""
        hit = self._entries.get(key)
        stale = (hit is None or self.clock() - hit[0] >= self.ttl
                 or (hit[1].done() and (hit[1].cancelled() or hit[1].exception() is not None)))
        if stale or (fresh and hit is not None and hit[1].done()):
            loading = asyncio.ensure_future(load())
            loading.add_done_callback(lambda f: f.cancelled() or f.exception())
            hit = self._entries[key] = (self.clock(), loading)
        assert hit is not None
        return cast(T, await asyncio.shield(hit[1]))

    async def close(self) -> None:
        """Cancel loads still running for callers that went away."""
        loading = [future for _, future in self._entries.values() if not future.done()]
        for future in loading:
            future.cancel()
        await asyncio.gather(*loading, return_exceptions=True)


class LruCache(Generic[K, V]):
    """At most ``size`` entries; storing one more forgets the least recently stored."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, default: V) -> V:
        return self._entries.get(key, default)

    def put(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
