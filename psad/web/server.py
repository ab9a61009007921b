"""The listening socket's limits: idle and header timeouts, a connection cap, parse errors.

aiohttp answers requests it cannot parse (a request line or header over its
limits, garbage) itself, outside the app and its middlewares: plain text, no
security headers, and an ERROR with a traceback per request. :class:`GuardedSite`
makes those answers the API's JSON error shape with the security headers and
logs them as one warning per interval. It also closes connections that stay
idle (or keep sending a request's headers) past ``idle_timeout`` and refuses
connections beyond ``max_connections`` with a 503 instead of running the process
out of file descriptors; overload is logged once per interval, not per accept.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from http import HTTPStatus

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from psad.web.app import SECURITY_HEADERS
from psad.web.errors import OncePer

log = logging.getLogger("psad.web.server")
REPORT_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class ServerLimits:
    idle_timeout: float
    """Seconds a connection may sit idle, or spend sending one request's headers."""
    max_connections: int


def _json_error(status: int, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(body)}", "Connection: close",
            *(f"{k}: {v}" for k, v in SECURITY_HEADERS.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class _Refused(asyncio.Protocol):
    """A connection over the cap: one 503 and close, before anything is read."""

    ANSWER = _json_error(503, "psad has too many open connections; try again shortly")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.ANSWER)
        transport.close()


class _Connection(RequestHandler):
    """aiohttp's connection protocol, answering unparsable requests the API's way."""

    bad_requests = OncePer(REPORT_INTERVAL)

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        reason = HTTPStatus(status).phrase
        detail = f"{reason}: {message.splitlines()[0][:200]}" if message else reason
        held = self.bad_requests.due()
        if held is not None:
            log.warning("refused a malformed request from %s (%s)%s", request.remote, detail,
                        f"; {held} more since the last report" if held else "")
        response = web.json_response({"error": detail}, status=status,
                                     headers=SECURITY_HEADERS)
        response.force_close()
        return response


class GuardedSite(web.TCPSite):
    """A TCP site whose connections carry :class:`ServerLimits`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int,
                 limits: ServerLimits) -> None:
        super().__init__(runner, host, port)
        self.limits = limits
        self.overload = OncePer(REPORT_INTERVAL)

    def _protocol(self) -> asyncio.Protocol:
        server = self._runner.server
        assert server is not None
        if len(server.connections) >= self.limits.max_connections:
            held = self.overload.due()
            if held is not None:
                log.warning("%d connections open, the limit: refusing new ones with 503%s",
                            self.limits.max_connections,
                            f" ({held} refused since the last report)" if held else "")
            return _Refused()
        # access_log=None turns aiohttp's access log off, as AppRunner(access_log=None) does
        return _Connection(server, loop=asyncio.get_running_loop(),
                           keepalive_timeout=self.limits.idle_timeout,
                           access_log=None)  # type: ignore[arg-type]

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self._host, self._port,
                                                backlog=self._backlog,
                                                reuse_address=self._reuse_address,
                                                reuse_port=self._reuse_port)
        self._bound_port = self._server.sockets[0].getsockname()[1]
