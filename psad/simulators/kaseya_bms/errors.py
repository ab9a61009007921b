"""The BMS response envelope and its error responses."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from psad.simulators.kaseya_bms.config import Wire, compact_dumps


def bms_error_body(status: int, message: str) -> dict[str, Any]:
    """The BMS failure envelope (also used for injected faults)."""
    return {"success": False,
            "error": {"code": status, "message": message, "details": None,
                      "stackStrace": None, "subErrors": None},
            "result": None}


def failure(status: int, message: str) -> web.Response:
    return web.json_response(bms_error_body(status, message), status=status, dumps=compact_dumps)


def ok(result: Any, total: int | None = None) -> web.Response:
    body: Wire = {"success": True, "error": None, "result": result}
    if total is not None:
        body["totalRecords"] = total
    return web.json_response(body, dumps=compact_dumps)


class BadRequest(Exception):
    """A request BMS would refuse with 400."""


def unauthorized(challenge: str = "Bearer") -> web.Response:
    return web.Response(status=401, headers={"WWW-Authenticate": challenge})
