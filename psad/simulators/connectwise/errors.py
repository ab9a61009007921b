"""ConnectWise error bodies and responses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from aiohttp import web

from psad.simulators.connectwise.config import compact_dumps


_CODES: Final = {400: "InvalidObject", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
                 405: "MethodNotAllowed", 429: "TooManyRequests"}


def cw_error_body(status: int, message: str) -> dict[str, Any]:
    """A ConnectWise error body for ``status`` (also used for injected faults)."""
    return {"code": _CODES.get(status, "ConnectWiseApi"), "message": message}


def cw_error(status: int, message: str, *, errors: Sequence[Mapping[str, str]] = ()) -> web.Response:
    body = cw_error_body(status, message)
    if errors:
        body["errors"] = list(errors)
    return cw_json(body, status=status)




def cw_json(body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """Compact JSON, as ConnectWise sends it."""
    return web.json_response(body, status=status, headers=headers, dumps=compact_dumps)


def not_found(label: str, record_id: object) -> web.Response:
    return cw_error(404, f"{label} with id {record_id} not found")
