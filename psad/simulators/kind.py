"""What each simulator package declares about itself, so lists of simulators derive from
the PSA registry (:mod:`psad.connectors.registry`) instead of being kept by hand."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True, slots=True)
class SimulatorKind:
    """How to build a PSA's simulator and what psad's config needs to reach it.

    ``create(dataset, **options)`` builds the app; ``unlimited`` holds the options
    that lift the vendor's rate limits, for benchmarks that measure psad rather than
    the vendor's throttle.
    """

    kind: str
    create: Callable[..., web.Application]
    api_path: str
    settings: Mapping[str, str]
    secrets: Mapping[str, str]
    unlimited: Mapping[str, Any] = field(default_factory=dict)
