"""Nightly cron jobs. A job only submits to the queue; the queue does the work.

Each integration fires on its own cron expression in its own time zone,
shifted by a fixed offset derived from its name (up to ``jitter_seconds``),
so many integrations spread out the same way every night.

APScheduler's memory job store cannot see nights missed while psad was down,
so :meth:`NightlyScheduler.catch_up` compares each integration's last
scheduled fire time with the sync log and queues one start-up run per missed
night (coalesced: one, however many nights were missed).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger

from psad.config import IntegrationConfig
from psad.cron import cron_trigger
from psad.queue import QueueClosed, RunQueue
from psad.store import utcnow
from psad.store.contract import StoreContract

log = logging.getLogger("psad.scheduler")

LOOKBACK = timedelta(days=8)
SEARCH_WINDOWS = (timedelta(minutes=2), timedelta(hours=2), timedelta(days=2), LOOKBACK)
"""Look-back windows searched in turn for an integration's last fire time."""


def jitter_offset(name: str, jitter_seconds: int) -> timedelta:
    """A stable per-integration delay in [0, jitter_seconds]."""
    if jitter_seconds <= 0:
        return timedelta(0)
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    return timedelta(seconds=digest % (jitter_seconds + 1))


class OffsetCronTrigger(BaseTrigger):  # type: ignore[misc]
    """A cron trigger whose every fire time is shifted by a fixed offset."""

    def __init__(self, expression: str, timezone: tzinfo, offset: timedelta) -> None:
        self.cron = cron_trigger(expression, timezone)
        self.offset = offset

    def get_next_fire_time(self, previous_fire_time: datetime | None,
                           now: datetime) -> datetime | None:
        previous = previous_fire_time - self.offset if previous_fire_time else None
        fire: datetime | None = self.cron.get_next_fire_time(previous, now - self.offset)
        return fire + self.offset if fire else None

    def previous_fire_time(self, now: datetime) -> datetime | None:
        """The last fire time at or before ``now`` within the look-back window.

        Windows are tried from the nearest out, so a schedule firing every minute
        costs a few steps rather than a week of them (every nightly fire asks).
        """
        for window in SEARCH_WINDOWS:
            fire = self.get_next_fire_time(None, now - window)
            if fire is None or fire > now:
                continue
            last = fire
            while (fire := self.get_next_fire_time(last, last + timedelta(microseconds=1))) \
                    is not None and fire <= now:
                last = fire
            return last
        return None

    def __str__(self) -> str:
        return f"cron[{self.cron}] +{self.offset}"


def make_trigger(integration: IntegrationConfig, jitter_seconds: int) -> OffsetCronTrigger:
    return OffsetCronTrigger(integration.schedule, ZoneInfo(integration.timezone),
                             jitter_offset(integration.name, jitter_seconds))


class NightlyScheduler:
    def __init__(self, queue: RunQueue, jitter_seconds: int) -> None:
        self.queue = queue
        self.jitter_seconds = jitter_seconds
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.triggers: dict[str, OffsetCronTrigger] = {}

    def start(self, integrations: Iterable[IntegrationConfig]) -> None:
        """Start on the running loop (APScheduler binds the loop it starts on)."""
        self.apply(integrations)
        self.scheduler.start()

    def apply(self, integrations: Iterable[IntegrationConfig]) -> None:
        """Make the jobs match ``integrations`` (start-up and reload)."""
        wanted = {i.name: i for i in integrations if i.enabled}
        for name in list(self.triggers):
            if name not in wanted:
                self.scheduler.remove_job(name)
                del self.triggers[name]
                log.info("integration=%s nightly schedule removed", name)
        for name, integration in wanted.items():
            trigger = make_trigger(integration, self.jitter_seconds)
            if name in self.triggers and str(self.triggers[name]) == str(trigger):
                continue
            self.triggers[name] = trigger
            self.scheduler.add_job(
                self._fire, trigger, args=[name], id=name, name=f"nightly {name}",
                replace_existing=True, coalesce=True, max_instances=1,
                misfire_grace_time=6 * 3600)
            log.info("integration=%s nightly schedule %r %s, next at %s", name,
                     integration.schedule, integration.timezone, self.next_run(name))

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def next_run(self, name: str) -> datetime | None:
        job = self.scheduler.get_job(name)
        if job is not None and getattr(job, "next_run_time", None):
            fire: datetime = job.next_run_time
            return fire
        trigger = self.triggers.get(name)
        return trigger.get_next_fire_time(None, utcnow()) if trigger else None

    async def _fire(self, name: str) -> None:
        """Queue the night's run, keyed by its fire time: instances sharing one database
        all fire, and the queue keeps one run per integration and fire time."""
        trigger = self.triggers.get(name)
        fired = trigger.previous_fire_time(utcnow()) if trigger else None
        try:
            await self.queue.submit(name, "nightly", "schedule", scheduled_for=fired)
        except QueueClosed:
            log.info("integration=%s nightly run not queued: psad is stopping", name)

    async def catch_up(self, store: StoreContract, now: datetime | None = None) -> list[str]:
        """Queue one start-up run for each integration whose last night was missed."""
        now = now or utcnow()
        queued: list[str] = []
        for name, trigger in self.triggers.items():
            last_fire = trigger.previous_fire_time(now)
            if last_fire is None:
                continue
            if not await store.nightly_covered(name, last_fire):
                if await store.entity_states(name):
                    log.info("integration=%s missed its nightly sync of %s; running it now",
                             name, last_fire.isoformat())
                else:
                    log.info("integration=%s has never synced; running its first sync now",
                             name)
                await self.queue.submit(name, "startup", "catch-up", scheduled_for=last_fire)
                queued.append(name)
        return queued
