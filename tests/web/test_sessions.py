"""Dashboard sessions: malformed cookies, Secure behind TLS, logout revokes, sign-in throttle,
and CSRF through the JSON API with the session cookie."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from conftest import TOKEN, write_config
from psad.config_file import load_config
from psad.metrics import Metrics
from psad.runtime import Runtime
from psad.store import utcnow
from psad.web.app import create_app
from psad.web.session import COOKIE, MAX_FAILURES

NAME = "demo-connectwise"
SYNC = f"/api/integrations/{NAME}/sync"


async def served(tmp_path: Path, sim: Any, aiohttp_client: Any, server: str = "") -> TestClient:
    tmp_path.mkdir()
    path = write_config(tmp_path, [sim])
    path.write_text(path.read_text().replace("[server]\n", f"[server]\n{server}\n"))
    runtime = Runtime(load_config(path), Metrics(CollectorRegistry()))
    client: TestClient = await aiohttp_client(create_app(runtime))
    client.runtime = runtime  # type: ignore[attr-defined]
    return client


async def sign_in(client: TestClient, **headers: str) -> str:
    """Log in; the Set-Cookie header psad answered with."""
    resp = await client.post("/login", data={"token": TOKEN, "next": "/"},
                             allow_redirects=False, headers=headers)
    assert resp.status == 303, await resp.text()
    return resp.headers["Set-Cookie"]


def cookie_value(set_cookie: str) -> str:
    match = re.match(rf"{COOKIE}=([^;]+);", set_cookie)
    assert match
    return match.group(1)


async def csrf(client: TestClient) -> str:
    page = await (await client.get("/")).text()
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert match
    return match.group(1)


async def run_count(client: TestClient) -> int:
    return len(await client.runtime.store.list_runs(limit=500))  # type: ignore[attr-defined]


# -- malformed cookies -----------------------------------------------------------------

MALFORMED = ["1.é", "é", "1.\U0001f600", "1234567890.abc", "a.b.c", "." * 100,
             "0" * 32 + ".1." + "é" * 64, "0" * 32 + "." + "١" * 10 + "." + "0" * 64]


@pytest.mark.parametrize("value", MALFORMED)
async def test_a_malformed_session_cookie_is_ignored_on_every_page(
        daemon_client: Any, value: str) -> None:
    cookie = {"Cookie": f"{COOKIE}={value}"}
    login = await daemon_client.get("/login", headers=cookie)
    assert login.status == 200
    for path in ("/", "/runs", f"/integrations/{NAME}/companies"):
        resp = await daemon_client.get(path, headers=cookie, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/login"), path
    resp = await daemon_client.post("/login", data={"token": "wrong-token-here", "next": "/"},
                                    headers=cookie)
    assert resp.status == 401
    api = await daemon_client.get("/api/integrations", headers=cookie)
    assert api.status == 401 and "error" in await api.json()


# -- Secure and logout -------------------------------------------------------------------

async def test_the_cookie_is_secure_only_behind_tls(tmp_path: Path, cw_sim: Any,
                                                    aiohttp_client: Any) -> None:
    plain = await served(tmp_path / "plain", cw_sim, aiohttp_client)
    assert "Secure" not in await sign_in(plain)
    # X-Forwarded-Proto from an address that is not a trusted proxy is not believed
    assert "Secure" not in await sign_in(plain, **{"X-Forwarded-Proto": "https"})

    proxied = await served(tmp_path / "proxied", cw_sim, aiohttp_client,
                           'trusted_proxies = ["127.0.0.1", "::1"]')
    assert "Secure" not in await sign_in(proxied, **{"X-Forwarded-Proto": "http"})
    assert "Secure" in await sign_in(proxied, **{"X-Forwarded-Proto": "https"})

    public = await served(tmp_path / "public", cw_sim, aiohttp_client,
                          'public_url = "https://psad.example.net"')
    assert "Secure" in await sign_in(public)


async def test_logout_revokes_the_cookie_even_when_presented_again(daemon_client: Any) -> None:
    value = cookie_value(await sign_in(daemon_client))
    token = await csrf(daemon_client)
    resp = await daemon_client.post("/logout", data={"csrf_token": token},
                                    allow_redirects=False)
    assert resp.status == 303
    replay = {"Cookie": f"{COOKIE}={value}"}
    again = await daemon_client.get("/", headers=replay, allow_redirects=False)
    assert again.status == 303 and again.headers["Location"].startswith("/login")
    assert (await daemon_client.get("/api/integrations", headers=replay)).status == 401
    # kept in the store, so a restart does not bring the session back
    revoked = await daemon_client.runtime.store.revoked_sessions(utcnow())
    assert value.split(".")[0] in revoked


async def test_revoked_sessions_expire_from_the_store(store: Any) -> None:
    from datetime import timedelta

    now = utcnow()
    await store.revoke_session("a" * 32, now + timedelta(hours=1))
    await store.revoke_session("b" * 32, now - timedelta(seconds=1))
    assert set(await store.revoked_sessions(now)) == {"a" * 32}


# -- throttled sign-in -------------------------------------------------------------------

async def test_failed_sign_ins_are_throttled_per_address_and_logged_once(
        daemon_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="psad.web.session")
    for _ in range(MAX_FAILURES):
        resp = await daemon_client.post("/login", data={"token": "wrong-token-1234", "next": "/"})
        assert resp.status == 401
    blocked = await daemon_client.post("/login", data={"token": TOKEN, "next": "/"},
                                       allow_redirects=False)
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in await blocked.text()
    failures = [r for r in caplog.records if "failed sign-in" in r.getMessage()]
    assert len(failures) == 1 and "127.0.0.1" in failures[0].getMessage()


async def test_wrong_bearer_tokens_are_logged_once_per_interval(
        daemon_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="psad.web.session")
    for _ in range(MAX_FAILURES * 2):
        resp = await daemon_client.get("/api/runs", headers={"Authorization": "Bearer nope"})
        assert resp.status == 401
    logged = [r for r in caplog.records if "failed bearer token" in r.getMessage()]
    assert len(logged) == 1
    ok = await daemon_client.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status == 200


# -- CSRF through the API ----------------------------------------------------------------

async def test_the_api_refuses_cookie_changes_without_the_csrf_header(daemon_client: Any) -> None:
    await sign_in(daemon_client)
    before = await run_count(daemon_client)
    attempts: list[dict[str, str]] = [
        {},
        {"Content-Type": "text/plain"},
        {"Origin": "http://127.0.0.1:9", "Sec-Fetch-Site": "same-site"},
        {"X-CSRF-Token": "0" * 64},
    ]
    for headers in attempts:
        resp = await daemon_client.post(SYNC, headers=headers, data="x")
        assert resp.status == 403, headers
        assert "error" in await resp.json()
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    token = await csrf(daemon_client)
    cross = await daemon_client.post(SYNC, headers={"X-CSRF-Token": token,
                                                    "Origin": "http://127.0.0.1:9"})
    assert cross.status == 403
    assert await run_count(daemon_client) == before
    own = await daemon_client.post(SYNC, headers={"X-CSRF-Token": token,
                                                  "Sec-Fetch-Site": "same-origin"})
    assert own.status == 202
    assert await daemon_client.runtime.store.get_run((await own.json())["run_id"])


async def test_bearer_requests_need_no_csrf_token(daemon_client: Any, auth: dict) -> None:
    resp = await daemon_client.post(SYNC, headers={**auth, "Origin": "http://elsewhere:9"})
    assert resp.status == 202
