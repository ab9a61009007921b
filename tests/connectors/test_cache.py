"""The connectors' shared caches: lookup lists kept for a while, bounded maps."""

from __future__ import annotations

import asyncio

import pytest

from psad.connectors.cache import LruCache, TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Counts loads; each answers its own number once ``gate`` opens."""

    def __init__(self) -> None:
        self.loads = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_next = False

    async def __call__(self) -> int:
        self.loads += 1
        number = self.loads
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("upstream refused")
        return number


async def test_callers_asking_while_a_value_loads_share_the_one_load() -> None:
    cache, load = TtlCache(60.0), Loader()
    load.gate.clear()
    waiting = [asyncio.ensure_future(cache.get("k", load)) for _ in range(3)]
    await asyncio.sleep(0)
    fresh = asyncio.ensure_future(cache.get("k", load, fresh=True))
    await asyncio.sleep(0)
    load.gate.set()
    assert await asyncio.gather(*waiting, fresh) == [1, 1, 1, 1]
    assert load.loads == 1


async def test_a_value_is_kept_for_its_ttl_then_loaded_again() -> None:
    clock, load = Clock(), Loader()
    cache = TtlCache(60.0, clock=clock)
    assert await cache.get("k", load) == 1
    clock.now += 59.0
    assert await cache.get("k", load) == 1
    assert await cache.get("other", load) == 2  # keys are apart
    clock.now += 1.0
    assert await cache.get("k", load) == 3


async def test_fresh_asks_anew_once_a_value_has_loaded() -> None:
    cache, load = TtlCache(60.0), Loader()
    assert await cache.get("k", load) == 1
    assert await cache.get("k", load, fresh=True) == 2
    assert await cache.get("k", load) == 2


async def test_a_failed_load_is_not_kept() -> None:
    cache, load = TtlCache(60.0), Loader()
    load.fail_next = True
    with pytest.raises(RuntimeError):
        await cache.get("k", load)
    assert await cache.get("k", load) == 2


async def test_a_caller_going_away_leaves_the_shared_load_running_until_close() -> None:
    cache, load = TtlCache(60.0), Loader()
    load.gate.clear()
    first = asyncio.ensure_future(cache.get("k", load))
    second = asyncio.ensure_future(cache.get("k", load))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    load.gate.set()
    assert await second == 1
    load.gate.clear()
    pending = asyncio.ensure_future(cache.get("j", load))
    await asyncio.sleep(0)
    await cache.close()
    with pytest.raises(asyncio.CancelledError):
        await pending


def test_lru_cache_forgets_the_least_recently_stored_beyond_its_size() -> None:
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)  # stored again: now the most recent
    cache.put("c", 4)
    assert "b" not in cache and len(cache) == 2
    assert cache.get("a", 0) == 3 and cache.get("c", 0) == 4 and cache.get("b", 0) == 0
