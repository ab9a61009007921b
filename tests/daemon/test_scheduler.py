"""Nightly schedule: per-integration cron, stable jitter, missed-night catch-up."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from psad.config import IntegrationConfig
from psad.model import Entity
from psad.queue import SyncQueue
from psad.scheduler import NightlyScheduler, OffsetCronTrigger, jitter_offset
from psad.store.contract import StoreContract


def integration(name: str, schedule: str = "0 4 * * *", tz: str = "UTC") -> IntegrationConfig:
    return IntegrationConfig(name=name, kind="connectwise", base_url="https://x.example/",
                             schedule=schedule, timezone=tz)


async def idle(run: object, stop: asyncio.Event) -> None:
    return None


def test_jitter_is_stable_per_name_and_within_bounds() -> None:
    offsets = {jitter_offset(f"integration-{i}", 900) for i in range(100)}
    assert all(timedelta(0) <= o <= timedelta(seconds=900) for o in offsets)
    assert len(offsets) > 50
    assert jitter_offset("acme", 900) == jitter_offset("acme", 900)


def test_trigger_fires_in_the_integrations_time_zone_plus_offset() -> None:
    trigger = OffsetCronTrigger("0 4 * * *", ZoneInfo("Europe/London"), timedelta(minutes=7))
    now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    nxt = trigger.get_next_fire_time(None, now)
    assert nxt is not None
    assert nxt.astimezone(UTC) == datetime(2026, 7, 2, 3, 7, tzinfo=UTC)  # 04:07 BST
    prev = trigger.previous_fire_time(now)
    assert prev is not None and prev.astimezone(UTC) == datetime(2026, 7, 1, 3, 7, tzinfo=UTC)
    # a fire whose base time has passed but whose offset time has not is still ahead
    assert trigger.get_next_fire_time(None, datetime(2026, 7, 1, 3, 3, tzinfo=UTC)) == prev


async def test_a_cron_fire_submits_a_nightly_run(store: StoreContract) -> None:
    queue = SyncQueue(store, idle, workers=1)
    scheduler = NightlyScheduler(queue, jitter_seconds=0)
    scheduler.start([integration("acme")])
    try:
        scheduler.scheduler.modify_job("acme", next_run_time=datetime.now(UTC))
        for _ in range(100):
            runs = await store.list_runs(integration="acme")
            if runs:
                break
            await asyncio.sleep(0.02)
        assert [(r.trigger, r.requested_by) for r in runs] == [("nightly", "schedule")]
    finally:
        scheduler.shutdown()


async def test_a_missed_night_is_run_once_at_start(store: StoreContract) -> None:
    queue = SyncQueue(store, idle, workers=1)
    scheduler = NightlyScheduler(queue, jitter_seconds=0)
    scheduler.apply([integration("acme"), integration("other", "0 4 * * *")])
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    # "other" ran last night; "acme" has not run for three nights
    await store.create_run("other", "nightly", "schedule", full=False,
                           queued_at=datetime(2026, 11, 25, 4, 0, 1, tzinfo=UTC))
    await store.create_run("acme", "nightly", "schedule", full=False,
                           queued_at=datetime(2026, 11, 22, 4, 0, 1, tzinfo=UTC))
    assert await scheduler.catch_up(store, now) == ["acme"]
    assert await scheduler.catch_up(store, now + timedelta(minutes=5)) == []
    runs = await store.list_runs(integration="acme")
    assert [r.trigger for r in runs] == ["startup", "nightly"]
    assert runs[0].scheduled_for and runs[0].scheduled_for.startswith("2026-11-25T04:00:00")


async def test_first_start_says_first_sync_rather_than_missed(
        store: StoreContract, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="psad.scheduler")
    scheduler = NightlyScheduler(SyncQueue(store, idle, workers=1), jitter_seconds=0)
    scheduler.apply([integration("fresh"), integration("synced")])
    run_id = await store.create_run("synced", "nightly", "schedule", full=False,
                                    queued_at=datetime(2026, 11, 20, 4, 0, 1, tzinfo=UTC))
    synced_at = datetime(2026, 11, 20, 4, 1, tzinfo=UTC)
    await store.entity_succeeded("synced", Entity.COMPANY, run_id, cursor=synced_at,
                                 at=synced_at, swept=True)
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert sorted(await scheduler.catch_up(store, now)) == ["fresh", "synced"]
    lines = {r.getMessage().split()[0]: r.getMessage() for r in caplog.records
             if r.name == "psad.scheduler" and "nightly schedule" not in r.getMessage()}
    assert lines["integration=fresh"].endswith("has never synced; running its first sync now")
    assert "missed its nightly sync" in lines["integration=synced"]


async def test_reload_replaces_changed_schedules_and_drops_removed_ones(store: StoreContract) -> None:
    scheduler = NightlyScheduler(SyncQueue(store, idle), jitter_seconds=0)
    scheduler.start([integration("a"), integration("b")])
    try:
        scheduler.apply([integration("a", "30 5 * * *", "America/New_York")])
        assert scheduler.scheduler.get_job("b") is None
        nxt = scheduler.next_run("a")
        assert nxt is not None
        local = nxt.astimezone(ZoneInfo("America/New_York"))
        assert (local.hour, local.minute) == (5, 30)
    finally:
        scheduler.shutdown()
