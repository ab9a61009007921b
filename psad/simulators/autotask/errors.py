"""Autotask error bodies and responses."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from psad.simulators.autotask.config import compact_dumps


def at_error_body(status: int, message: str) -> dict[str, Any]:
    """Autotask's error body (also used for injected faults)."""
    return {"errors": [message]}


def at_error(status: int, *messages: str) -> web.Response:
    return at_json({"errors": list(messages)}, status=status)


def at_json(body: Any, *, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=compact_dumps)


class QueryError(Exception):
    """A query Autotask refuses; answered 500 with ``{"errors": [...]}``."""
