"""Halo and OAuth error bodies and responses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from psad.simulators.halo.config import compact_dumps


def rate_limit_message(limit: tuple[int, float]) -> str:
    requests, window = limit
    return f"Rate Limit Reached - {requests} Requests per rolling {window / 60:g} minute window"


def halo_error_body(status: int, message: str) -> dict[str, Any]:
    """A Halo error body for ``status`` (also used for injected faults)."""
    if status == 429:
        return {"error": message}
    return {"ClassName": "System.Exception", "Message": message}


def halo_json(body: Any, *, status: int = 200,
          headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=compact_dumps)


def halo_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return halo_json(halo_error_body(status, message), status=status, headers=headers)


def oauth_error(error: str, description: str) -> web.Response:
    return halo_json({"error": error, "error_description": description}, status=400)


class BadParam(Exception):
    """A query value ASP.NET model binding would refuse; becomes a 400."""
