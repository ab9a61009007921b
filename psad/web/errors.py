"""One JSON error shape for the API: ``{"error": message}`` with the right status."""

from __future__ import annotations

import json
import logging
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
