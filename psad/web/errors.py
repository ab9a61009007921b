"""One JSON error shape for the API: ``{"error": message}`` with the right status."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from psad.logs import redact

log = logging.getLogger("psad.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(web.HTTPException):
    """An API failure carrying its status and a message for the caller."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        super().__init__(text=json.dumps({"error": message}), content_type="application/json",
                         headers=headers)
        self.message = message


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz", "/readyz") or \
        "application/json" in request.headers.get("Accept", "")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError:
        raise
    except web.HTTPException as err:
        if not wants_json(request) or err.status < 400:
            raise
        reason = err.reason if err.status != 413 else "request body too large"
        raise ApiError(err.status, reason, headers={k: v for k, v in err.headers.items()
                                                    if k in ("Allow", "WWW-Authenticate")}) from None
    except Exception as err:
        log.error("%s %s failed: %s", request.method, request.path,
                  redact(f"{type(err).__name__}: {err}"), exc_info=False)
        log.debug("traceback", exc_info=True)
        if wants_json(request):
            raise ApiError(500, "internal error; see the psad log") from None
        raise web.HTTPInternalServerError(text="internal error; see the psad log") from None


class OncePer:
    """Rate-limits a log line per key: the first event logs, later ones are counted.

    ``due(key)`` returns None while the key's interval runs, else how many
    events were held back since its last report (0 for a first event).
    """

    def __init__(self, interval: float, *, max_keys: int = 10_000) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._last: dict[str, tuple[float, int]] = {}

    def due(self, key: str = "") -> int | None:
        now = time.monotonic()
        if len(self._last) >= self.max_keys and key not in self._last:
            self._last = {k: v for k, v in self._last.items() if now - v[0] < self.interval}
        last, held = self._last.get(key, (float("-inf"), 0))
        if now - last < self.interval:
            self._last[key] = (last, held + 1)
            return None
        self._last[key] = (now, 0)
        return held
