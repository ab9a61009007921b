"""Switchable fault injection for the PSA simulators, as one aiohttp middleware.

A test arms a :class:`Fault` for a path prefix and a number of requests (or
forever); the middleware consumes it on the next matching request. Besides
one-off faults there is a global ``latency`` (for benchmarks) and an optional
fixed-window rate limit that answers 429 with ``Retry-After``.

The middleware is vendor-neutral: a simulator passes ``error_body(status,
message)`` to render its own error JSON. Paths under ``/_sim/`` (the control
plane) are never faulted.
"""

from __future__ import annotations

import asyncio
import math
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from aiohttp import web
from aiohttp.typedefs import Middleware

FaultKind = Literal["status", "delay", "reset", "truncated_json", "invalid_json"]
ErrorBody = Callable[[int, str], Mapping[str, Any]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

KINDS: Final = frozenset({"status", "delay", "reset", "truncated_json", "invalid_json"})
CONTROL_PREFIX: Final = "/_sim/"
_INVALID_JSON: Final = b'[{"id": 1, "name": "broken",, }<html>502 Bad Gateway</html>'


def default_error_body(status: int, message: str) -> Mapping[str, Any]:
    return {"status": status, "message": message}


@dataclass(slots=True)
class Fault:
    """One armed fault. ``count=None`` means every matching request, forever."""

    kind: FaultKind
    prefix: str = "/"
    count: int | None = 1
    status: int = 503
    retry_after: float | None = None
    seconds: float = 0.0
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.prefix) and (self.method is None or self.method == method)


@dataclass(slots=True)
class RateLimit:
    requests: int
    window: float
    retry_after: float | None = None
    started: float = 0.0
    used: int = 0


@dataclass(slots=True)
class Triggered:
    kind: str
    method: str
    path: str


@dataclass
class Faults:
    """The fault state of one simulator app; everything in memory."""

    error_body: ErrorBody = default_error_body
    latency: float = 0.0
    rate_limit: RateLimit | None = None
    armed: list[Fault] = field(default_factory=list)
    triggered: list[Triggered] = field(default_factory=list)

    # --- arming -------------------------------------------------------------------

    def add(self, fault: Fault) -> Fault:
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        self.armed.append(fault)
        return fault

    def status(
        self, prefix: str, status: int, *, count: int | None = 1, retry_after: float | None = None
    ) -> Fault:
        return self.add(Fault("status", prefix, count, status=status, retry_after=retry_after))

    def delay(self, prefix: str, seconds: float, *, count: int | None = 1) -> Fault:
        return self.add(Fault("delay", prefix, count, seconds=seconds))

    def reset(self, prefix: str, *, count: int | None = 1) -> Fault:
        return self.add(Fault("reset", prefix, count))

    def truncated_json(self, prefix: str, *, count: int | None = 1) -> Fault:
        return self.add(Fault("truncated_json", prefix, count))

    def invalid_json(self, prefix: str, *, count: int | None = 1) -> Fault:
        return self.add(Fault("invalid_json", prefix, count))

    def limit_rate(self, requests: int, window: float, *, retry_after: float | None = None) -> None:
        self.rate_limit = RateLimit(requests, window, retry_after)

    def clear(self) -> None:
        self.armed.clear()
        self.triggered.clear()
        self.latency = 0.0
        self.rate_limit = None

    def apply(self, spec: Mapping[str, Any]) -> None:
        """Arm from a JSON description (the ``POST /_sim/faults`` body).

        ``{"kind": "status", "prefix": "/x", "status": 429, "retry_after": 2, "count": 1}``,
        ``{"kind": "latency", "seconds": 0.05}`` or
        ``{"kind": "rate_limit", "requests": 10, "window": 1.0, "retry_after": 1}``.
        """
        kind = spec.get("kind")
        if kind == "latency":
            self.latency = float(spec.get("seconds", 0.0))
        elif kind == "rate_limit":
            retry_after = spec.get("retry_after")
            self.limit_rate(
                int(spec["requests"]), float(spec["window"]),
                retry_after=None if retry_after is None else float(retry_after),
            )
        elif kind in KINDS:
            count = spec.get("count", 1)
            retry_after = spec.get("retry_after")
            self.add(Fault(
                kind=kind,
                prefix=str(spec.get("prefix", "/")),
                count=None if count is None else int(count),
                status=int(spec.get("status", 503)),
                retry_after=None if retry_after is None else float(retry_after),
                seconds=float(spec.get("seconds", 0.0)),
                method=spec.get("method"),
            ))
        else:
            raise ValueError(f"unknown fault kind {kind!r}")

    # --- consuming ------------------------------------------------------------------

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching this request, with one use consumed."""
        for fault in self.armed:
            if fault.matches(method, path):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.armed.remove(fault)
                self.triggered.append(Triggered(fault.kind, method, path))
                return fault
        return None

    def _over_rate(self, now: float) -> float | None:
        """Seconds until the window reopens when this request is over the limit."""
        limit = self.rate_limit
        if limit is None:
            return None
        if now - limit.started >= limit.window:
            limit.started, limit.used = now, 0
        limit.used += 1
        if limit.used <= limit.requests:
            return None
        wait = limit.retry_after if limit.retry_after is not None else limit.started + limit.window - now
        return max(wait, 0.0)

    # --- middleware -----------------------------------------------------------------

    @property
    def middleware(self) -> Middleware:
        @web.middleware
        async def faults_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.startswith(CONTROL_PREFIX):
                return await handler(request)
            if self.latency > 0:
                await asyncio.sleep(self.latency)
            wait = self._over_rate(asyncio.get_running_loop().time())
            if wait is not None:
                self.triggered.append(Triggered("rate_limit", request.method, request.path))
                return self._error(429, "Too many requests", wait)
            fault = self.take(request.method, request.path)
            if fault is None:
                return await handler(request)
            return await self._inject(fault, request, handler)

        return faults_middleware

    def _error(self, status: int, message: str, retry_after: float | None) -> web.Response:
        headers = {} if retry_after is None else {"Retry-After": str(math.ceil(retry_after))}
        return web.json_response(self.error_body(status, message), status=status, headers=headers)

    async def _inject(self, fault: Fault, request: web.Request, handler: Handler) -> web.StreamResponse:
        if fault.kind == "status":
            return self._error(fault.status, _REASONS.get(fault.status, "Injected fault"), fault.retry_after)
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            return await handler(request)
        response = await handler(request)
        if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
            return response
        body = response.body
        if fault.kind == "invalid_json":
            return _with_body(response, _INVALID_JSON)
        if fault.kind == "truncated_json":
            return _with_body(response, body[: max(len(body) // 2, 1)])
        return await _reset_mid_body(request, response, body)


_REASONS: Final = {
    429: "Too many requests",
    500: "An internal server error occurred",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


_BODY_HEADERS: Final = ("content-length", "content-type")


def _with_body(response: web.Response, body: bytes) -> web.Response:
    headers = {k: v for k, v in response.headers.items() if k.lower() not in _BODY_HEADERS}
    return web.Response(body=body, status=response.status, headers=headers, content_type="application/json")


async def _reset_mid_body(request: web.Request, response: web.Response, body: bytes) -> web.StreamResponse:
    """Send the headers and half the body, then reset the connection."""
    stream = web.StreamResponse(status=response.status)
    for key, value in response.headers.items():
        if key.lower() not in _BODY_HEADERS:
            stream.headers[key] = value
    stream.content_type = "application/json"
    stream.content_length = len(body) if body else 1
    await stream.prepare(request)
    await stream.write(body[: len(body) // 2])
    await asyncio.sleep(0.01)
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return stream
