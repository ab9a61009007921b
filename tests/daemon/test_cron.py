"""Cron weekdays mean what cron means: 0 and 7 are Sunday, names, ranges, lists and steps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from psad.config import IntegrationConfig
from psad.config_file import load_config
from psad.cron import cron_trigger, cron_weekdays
from psad.errors import ConfigError
from psad.queue import SyncQueue
from psad.scheduler import NightlyScheduler
from psad.store.contract import StoreContract

NEW_YORK = ZoneInfo("America/New_York")
SUNDAY_NOON = datetime(2026, 3, 1, 12, 0, tzinfo=NEW_YORK)
"""Sunday 1 March 2026; clocks in New York go forward on Sunday 8 March."""
# The first 04:00 after SUNDAY_NOON for each cron weekday number, from the 2026 calendar.
FIRST_FIRE = {1: date(2026, 3, 2), 2: date(2026, 3, 3), 3: date(2026, 3, 4),
              4: date(2026, 3, 5), 5: date(2026, 3, 6), 6: date(2026, 3, 7),
              0: date(2026, 3, 8), 7: date(2026, 3, 8)}
NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


def fires(expression: str, count: int, start: datetime = SUNDAY_NOON) -> list[datetime]:
    trigger = cron_trigger(expression, NEW_YORK)
    out: list[datetime] = []
    previous = None
    now = start
    while len(out) < count:
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        out.append(fire)
        previous, now = fire, fire + timedelta(microseconds=1)
    return out


@pytest.mark.parametrize("number", sorted(FIRST_FIRE))
def test_each_cron_weekday_number_fires_on_that_calendar_day_across_dst(number: int) -> None:
    first, second = fires(f"0 4 * * {number}", 2)
    assert first.date() == FIRST_FIRE[number]
    assert second.date() == FIRST_FIRE[number] + timedelta(days=7)
    assert (first.hour, second.hour) == (4, 4)  # 04:00 local on both sides of the change
    assert first.isoweekday() % 7 == number % 7


@pytest.mark.parametrize("name", sorted(NAMES))
def test_weekday_names_match_their_numbers(name: str) -> None:
    assert fires(f"0 4 * * {name}", 3) == fires(f"0 4 * * {NAMES[name]}", 3)
    assert fires(f"0 4 * * {name.upper()}", 1) == fires(f"0 4 * * {NAMES[name]}", 1)


@pytest.mark.parametrize(("field", "days"), [
    ("1-5", {1, 2, 3, 4, 5}),
    ("mon-fri", {1, 2, 3, 4, 5}),
    ("mon,wed", {1, 3}),
    ("0,6", {0, 6}),
    ("5-7", {5, 6, 0}),
    ("*/2", {0, 2, 4, 6}),
    ("1-5/2", {1, 3, 5}),
    ("sat,7", {6, 0}),
])
def test_ranges_lists_and_steps_pick_the_cron_days(field: str, days: set[int]) -> None:
    picked = {fire.isoweekday() % 7 for fire in fires(f"0 4 * * {field}", 14)}
    assert picked == days


@pytest.mark.parametrize("field", ["8", "fri-mon", "funday", "1-", "*/0", "²", "١"])
def test_impossible_weekdays_are_refused(field: str) -> None:
    with pytest.raises(ValueError):
        cron_weekdays(field)


def test_sunday_as_seven_passes_check_and_eight_names_the_key(tmp_path: Path) -> None:
    def config(schedule: str) -> Path:
        path = tmp_path / "psad.toml"
        path.write_text(f'database = "psad.db"\n[[integrations]]\nname = "acme"\n'
                        f'kind = "connectwise"\nbase_url = "https://x.example/"\n'
                        f'company_id = "acme"\nclient_id = "c"\n'
                        f'public_key = {{ env = "A" }}\nprivate_key = {{ env = "B" }}\n'
                        f'schedule = "{schedule}"\n')
        return path

    assert load_config(config("0 4 * * 7")).integrations[0].schedule == "0 4 * * 7"
    with pytest.raises(ConfigError) as err:
        load_config(config("0 4 * * 8"))
    assert any(p.startswith("integrations[0].schedule:") for p in err.value.problems)


async def test_a_sunday_schedule_is_next_due_on_a_sunday(store: StoreContract) -> None:
    async def idle(run: object, stop: object) -> None:
        return None

    scheduler = NightlyScheduler(SyncQueue(store, idle, workers=1), jitter_seconds=0)
    scheduler.apply([IntegrationConfig(name="acme", kind="connectwise",
                                       base_url="https://x.example/", schedule="0 4 * * 0",
                                       timezone="America/New_York")])
    trigger = scheduler.triggers["acme"]
    fire = trigger.get_next_fire_time(None, datetime(2026, 3, 2, tzinfo=UTC))
    assert fire is not None and fire.astimezone(NEW_YORK).date() == date(2026, 3, 8)
