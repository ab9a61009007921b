"""Syncro error bodies and responses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from psad.simulators.syncro.config import NOT_AUTHORIZED, compact_dumps


def syncro_error_body(status: int, message: str) -> dict[str, Any]:
    """A Syncro-shaped error body (also used for injected faults)."""
    if status in (401, 403):
        return {"error": NOT_AUTHORIZED}
    if status == 404:
        return {"message": "Not found"}
    if status == 422:
        return {"errors": [message]}
    return {"status": status, "error": message}


def syncro_json(body: Any, *, status: int = 200,
          headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=compact_dumps)


def syncro_error(status: int, message: str = "") -> web.Response:
    return syncro_json(syncro_error_body(status, message), status=status)
