"""PostgreSQL health checks answer on their own connection, never behind busy queries."""

from __future__ import annotations

import asyncio

from psad.store.postgres import POOL_SIZE, PostgresStore


async def test_ping_answers_while_every_pooled_connection_is_busy(postgres_url: str) -> None:
    store = await PostgresStore.open(postgres_url)
    release = asyncio.Event()

    async def occupy() -> None:
        async with store._pool.acquire() as conn:
            await conn.execute("SELECT 1")
            await release.wait()

    busy = [asyncio.create_task(occupy()) for _ in range(POOL_SIZE + 2)]
    try:
        while store._pool.get_idle_size() or store._pool.get_size() < POOL_SIZE:
            await asyncio.sleep(0.01)
        assert await store.ping()
        assert not any(task.done() for task in busy)  # the pool was still exhausted
    finally:
        release.set()
        await asyncio.gather(*busy)
        await store.close()
