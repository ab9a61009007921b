"""The app's settings and the state tests inspect or change, under their app keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from psad.simulators.autotask.limits import RequestBudget, ThreadGate


@dataclass(frozen=True, slots=True)
class AtConfig:
    username: str
    secret: str
    integration_code: str
    usage_latency: tuple[float, float]


@dataclass(slots=True)
class AtState:
    """What tests inspect or change: zone, limits, and the bodies clients sent."""

    zone: str
    budget: RequestBudget
    threads: ThreadGate
    bodies: list[tuple[str, str, Any]] = field(default_factory=list)
    """(method, path, parsed JSON body) of every API request that had a body."""


CONFIG_KEY = web.AppKey("psad.simulators.autotask.config", AtConfig)
STATE_KEY = web.AppKey("psad.simulators.autotask.state", AtState)
