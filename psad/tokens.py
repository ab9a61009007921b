"""The daemon's bearer tokens and their constant-time checks (API, and optional /metrics)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tokens:
    api: str
    metrics: str | None = None

    def api_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.api.encode())

    def metrics_ok(self, presented: str | None) -> bool:
        if self.metrics is not None and presented is not None and hmac.compare_digest(
                presented.encode(), self.metrics.encode()):
            return True
        return self.api_ok(presented)
