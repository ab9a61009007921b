"""The listening socket's limits: idle and slow-header connections are closed, connections
over the cap get a 503, and requests aiohttp cannot parse get the API's JSON error."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from psad.web.app import SECURITY_HEADERS
from psad.web.server import GuardedSite, ServerLimits

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@pytest.fixture
async def port() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    site = GuardedSite(runner, "127.0.0.1", 0, ServerLimits(idle_timeout=0.5, max_connections=3))
    await site.start()
    yield runner.addresses[0][1]
    await runner.cleanup()


async def connect(port: int) -> Stream:
    return await asyncio.open_connection("127.0.0.1", port)


async def answer(stream: Stream, request: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    reader, writer = stream
    if request:
        writer.write(request)
    raw = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


async def test_an_idle_connection_is_closed_after_the_idle_timeout(port: int) -> None:
    reader, writer = await connect(port)
    assert await asyncio.wait_for(reader.read(), 30) == b""  # closed by psad, nothing sent
    writer.close()


async def test_a_request_whose_headers_never_end_is_closed(port: int) -> None:
    reader, writer = await connect(port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    for _ in range(3):
        await asyncio.sleep(0.2)
        writer.write(b"a")
    assert await asyncio.wait_for(reader.read(), 30) == b""
    writer.close()


async def test_connections_over_the_cap_get_a_503_logged_once(
        port: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="psad.web.server")
    held = [await connect(port) for _ in range(3)]
    await asyncio.sleep(0.05)
    refused = [await connect(port) for _ in range(5)]
    for stream in refused:
        status, headers, body = await answer(stream)
        assert status == 503 and "error" in json.loads(body)
        assert headers["X-Content-Type-Options"] == "nosniff"
    overload = [r for r in caplog.records if "connections open" in r.getMessage()]
    assert len(overload) == 1
    for _, writer in held:
        writer.close()
    for _ in range(100):  # the held connections are released; service resumes
        status, _, _ = await answer(await connect(port), b"GET /healthz HTTP/1.1\r\n"
                                                         b"Host: x\r\nConnection: close\r\n\r\n")
        if status == 200:
            break
        await asyncio.sleep(0.05)
    assert status == 200


@pytest.mark.parametrize("request_bytes", [
    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
])
async def test_unparsable_requests_get_the_json_error_and_only_a_warning(
        port: int, request_bytes: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    status, headers, body = await answer(await connect(port), request_bytes)
    assert 400 <= status < 500
    assert headers["Content-Type"].startswith("application/json")
    assert "error" in json.loads(body)
    for key, value in SECURITY_HEADERS.items():
        assert headers[key] == value
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
