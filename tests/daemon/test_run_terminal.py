"""Every run reaches a terminal state, even when the store itself fails mid-run."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

from conftest import wait_for_run


class DiskFull:
    """Makes the named store methods fail as SQLite does on a full disk, until freed."""

    def __init__(self, store: Any, monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
        self.full = True
        self.refused = 0
        for name in names:
            monkeypatch.setattr(store, name, self._failing(getattr(store, name)))

    def _failing(self, method: Any) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.full:
                self.refused += 1
                raise sqlite3.OperationalError("database or disk is full")
            return await method(*args, **kwargs)
        return call


async def given_up(runtime: Any, disk: DiskFull) -> None:
    """Wait until a worker has met the full disk and let its run go (the run stays open
    in the store: queued on SQLite, running, still leased, on PostgreSQL)."""
    for _ in range(400):
        if disk.refused and not runtime.queue.running:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no worker gave its run up")


async def idle(client: Any, auth: dict[str, str]) -> dict[str, Any]:
    for _ in range(400):
        resp = await client.get("/api/integrations", headers=auth)
        [integration] = (await resp.json())["integrations"]
        if integration["state"] == "idle":
            return integration
        await asyncio.sleep(0.05)
    raise AssertionError("the integration never went idle")


async def force(client: Any, auth: dict[str, str]) -> int:
    resp = await client.post("/api/integrations/demo-connectwise/sync", headers=auth)
    assert resp.status == 202
    return int((await resp.json())["run_id"])


async def test_worker_error_from_the_store_ends_the_run_failed_with_the_error(
        daemon_client: Any, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    store = daemon_client.runtime.store
    disk = DiskFull(store, monkeypatch, "update_run")
    run_id = await force(daemon_client, auth)
    run = await wait_for_run(daemon_client, run_id, auth)
    assert run["outcome"] == "failed"
    assert run["finished_at"] is not None
    assert "database or disk is full" in run["error"]
    assert (await idle(daemon_client, auth))["last_run"]["id"] == run_id
    disk.full = False
    assert (await wait_for_run(daemon_client, await force(daemon_client, auth), auth)
            )["outcome"] == "succeeded"


async def test_run_the_store_could_not_close_is_closed_once_it_can_write_again(
        daemon_client: Any, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    store = daemon_client.runtime.store
    await idle(daemon_client, auth)
    disk = DiskFull(store, monkeypatch, "update_run", "close_run")
    stuck = await force(daemon_client, auth)
    await given_up(daemon_client.runtime, disk)
    assert (await store.get_run(stuck)).run.outcome in ("queued", "running")
    disk.full = False
    follow_up = await force(daemon_client, auth)
    assert (await wait_for_run(daemon_client, follow_up, auth))["outcome"] == "succeeded"
    detail = await store.get_run(stuck)
    assert detail is not None
    assert detail.run.outcome == "failed"
    assert "database or disk is full" in (detail.run.error or "")


async def test_run_still_open_at_stop_is_closed_at_the_next_start(
        daemon_client: Any, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = daemon_client.runtime
    await idle(daemon_client, auth)
    disk = DiskFull(runtime.store, monkeypatch, "update_run", "close_run")
    stuck = await force(daemon_client, auth)
    await given_up(runtime, disk)
    await runtime.stop(timeout=5)
    closed = await runtime.store.interrupt_unfinished_runs(at=runtime.engine.clock())
    assert stuck in [r.id for r in closed]
    runs = {r.id: r.outcome for r in await runtime.store.list_runs()}
    assert runs[stuck] == "interrupted"
    assert not {"queued", "running"} & set(runs.values())
