"""``/healthz`` answers from a background ping of the store, never from a stale one."""

from __future__ import annotations

import asyncio
import os
import re
import socket

from psad.health import DatabaseHealth
from psad.store import Store


async def test_probes_are_answered_from_the_background_ping_without_a_round_trip_each(
        store: Store) -> None:
    pings: list[bool] = []

    async def counted_ping() -> bool:
        pings.append(await store.ping())
        return pings[-1]

    health = DatabaseHealth(counted_ping, interval=60)
    health.start()
    try:
        while not pings:
            await asyncio.sleep(0.01)
        assert all([await health.check() for _ in range(50)])
        assert pings == [True]
    finally:
        await health.stop()


async def test_a_stale_answer_is_not_trusted_and_a_failing_database_is_reported(
        store: Store) -> None:
    now = [0.0]
    answers = [True]

    async def ping() -> bool:
        return answers[0] and await store.ping()

    health = DatabaseHealth(ping, interval=1.0, clock=lambda: now[0])
    assert await health.check()
    answers[0] = False
    now[0] = 1.5  # still fresh: the last answer stands
    assert await health.check()
    now[0] = 2.5  # stale: the probe pings itself and sees the failure
    assert not await health.check()


async def test_healthz_reports_the_database_through_the_background_ping(
        daemon_client, auth) -> None:
    resp = await daemon_client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "database": True}


async def test_metrics_name_the_instance_and_its_store(daemon_client, auth,
                                                     store_backend: str) -> None:
    resp = await daemon_client.get("/metrics", headers=auth)
    process = re.escape(f"{socket.gethostname()}:{os.getpid()}")
    # on PostgreSQL the instance's name goes on to tell apart processes sharing a pid
    assert re.search(rf'psad_instance_info\{{instance="{process}(:[0-9a-f]{{8}})?",'
                     rf'store="{store_backend}"\}} 1\.0', await resp.text())
