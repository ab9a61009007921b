"""Five-field cron expressions with cron's own meaning, on APScheduler's ``CronTrigger``.

APScheduler numbers weekdays from Monday (0 = Monday, 6 = Sunday) while cron
numbers them from Sunday (0 and 7 = Sunday). Handing a cron weekday field to
APScheduler unchanged shifts every schedule by one day, so the weekday field
is translated here into APScheduler's weekday names; config validation and the
scheduler both build their triggers through :func:`cron_trigger`.
"""

from __future__ import annotations

import re
from datetime import tzinfo

from apscheduler.triggers.cron import CronTrigger

WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
"""Cron's weekday numbers 0..6 in order (7 is Sunday again); APScheduler knows these names."""
_ITEM = re.compile(r"^(?:(\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?$")


def _weekday(token: str) -> int:
    """A cron weekday number (0..7, ASCII digits) or English abbreviation → 0..7."""
    if token in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(token)
    if token.isascii() and token.isdigit() and int(token) <= 7:
        return int(token)
    raise ValueError(f"weekday {token!r} is not 0-7 or sun..sat")


def cron_weekdays(field: str) -> str:
    """Translate a cron day-of-week field into APScheduler's ``day_of_week`` (by name).

    Accepts what cron accepts: ``*``, numbers 0-7 (0 and 7 are Sunday), names,
    ranges (``1-5``, ``mon-fri``), lists (``mon,wed``) and steps (``*/2``, ``1-5/2``).
    Raises ValueError naming the part that is wrong.
    """
    field = field.lower()
    if field == "*":
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        match = _ITEM.match(item)
        if match is None:
            raise ValueError(f"weekday field part {item!r} is not a cron weekday expression")
        star, first, last, step_text = match.groups()
        if star:
            low, high = 0, 6
        else:
            low = _weekday(first)
            high = _weekday(last) if last is not None else (7 if step_text else low)
        if low > high:
            raise ValueError(f"weekday range {item!r} runs backwards")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"weekday step in {item!r} must be at least 1")
        days.update(day % 7 for day in range(low, high + 1, step))
    return ",".join(WEEKDAY_NAMES[day] for day in sorted(days))


def cron_trigger(expression: str, timezone: tzinfo | None = None) -> CronTrigger:
    """A trigger for a five-field cron expression; ValueError says what is wrong."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"must have five fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                       day_of_week=cron_weekdays(weekday), timezone=timezone)
