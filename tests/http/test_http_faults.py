"""The one PSA client under the simulator's faults: retries, Retry-After, timeouts, circuit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from psad.errors import (
    PsaAuthError,
    PsaBadResponse,
    PsaCircuitOpen,
    PsaNotFound,
    PsaRateLimited,
    PsaTimeout,
    PsaUnavailable,
)
from psad.http import PsaClient, RetryPolicy, parse_retry_after, redact_url
from psad.simulators import REQUEST_LOG_KEY
from psad.simulators.serve import CONNECTWISE, RunningSimulator

PATH = "/v4_6_release/apis/3.0/company/companies"


class Auth:
    async def headers(self) -> dict[str, str]:
        import base64

        token = base64.b64encode(b"psad-demo+demo-public:demo-private-key").decode()
        return {"Authorization": f"Basic {token}",
                "clientId": CONNECTWISE.settings["client_id"]}

    async def refresh(self) -> bool:
        return False


@pytest.fixture
async def client() -> AsyncIterator[PsaClient]:
    async with aiohttp.ClientSession() as session:
        yield PsaClient(session, "acme", timeout=0.3,
                        policy=RetryPolicy(max_retries=3, backoff_base=0.01, backoff_max=0.05,
                                           circuit_threshold=3, circuit_cooldown=0.5))


def calls(sim: RunningSimulator) -> int:
    return sim.app[REQUEST_LOG_KEY].count(PATH)


async def get(client: PsaClient, sim: RunningSimulator) -> Any:
    return await client.get(sim.root_url + PATH, params={"pageSize": 5}, auth=Auth())


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retried_until_they_pass(client: PsaClient, cw_sim: Any,
                                                         status: int) -> None:
    cw_sim.faults.status(PATH, status, count=2)
    response = await get(client, cw_sim)
    assert response.status == 200 and len(response.body) == 5
    assert calls(cw_sim) == 3


async def test_retry_after_is_honoured_on_429(client: PsaClient, cw_sim: Any) -> None:
    cw_sim.faults.status(PATH, 429, count=1, retry_after=0.4)
    started = time.monotonic()
    response = await get(client, cw_sim)
    assert response.status == 200 and time.monotonic() - started >= 0.4


async def test_throttling_past_the_retry_budget_raises_rate_limited(client: PsaClient,
                                                                   cw_sim: Any) -> None:
    cw_sim.faults.status(PATH, 429, count=None, retry_after=0)
    with pytest.raises(PsaRateLimited):
        await get(client, cw_sim)
    assert calls(cw_sim) == 4  # one try and three retries, no more


async def test_slow_answers_time_out_and_are_retried(client: PsaClient, cw_sim: Any) -> None:
    cw_sim.faults.delay(PATH, 1.0, count=1)
    assert (await get(client, cw_sim)).status == 200
    cw_sim.faults.delay(PATH, 1.0, count=None)
    with pytest.raises(PsaTimeout):
        await get(client, cw_sim)


@pytest.mark.parametrize("fault", ["reset", "truncated_json", "invalid_json"])
async def test_broken_bodies_are_retried(client: PsaClient, cw_sim: Any, fault: str) -> None:
    getattr(cw_sim.faults, fault)(PATH, count=1)
    response = await get(client, cw_sim)
    assert response.status == 200 and len(response.body) == 5
    getattr(cw_sim.faults, fault)(PATH, count=None)
    with pytest.raises((PsaUnavailable, PsaBadResponse)):
        await get(client, cw_sim)


async def test_client_errors_are_not_retried(client: PsaClient, cw_sim: Any) -> None:
    with pytest.raises(PsaNotFound):
        await client.get(cw_sim.root_url + PATH + "/999999", auth=Auth())

    class Wrong(Auth):
        async def headers(self) -> dict[str, str]:
            return {**await super().headers(), "Authorization": "Basic d3Jvbmc6d3Jvbmc="}

    with pytest.raises(PsaAuthError):
        await client.get(cw_sim.root_url + PATH, auth=Wrong())
    with pytest.raises(PsaBadResponse) as caught:
        await client.get(cw_sim.root_url + PATH, params={"conditions": "bogus ~~ 1"}, auth=Auth())
    assert caught.value.status == 400


async def test_circuit_opens_after_repeated_failures_logs_once_and_recovers(
        client: PsaClient, cw_sim: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="psad.http")
    cw_sim.faults.status(PATH, 503, count=None)
    for _ in range(3):
        with pytest.raises(PsaUnavailable):
            await get(client, cw_sim)
    before = calls(cw_sim)
    with pytest.raises(PsaCircuitOpen):
        await get(client, cw_sim)
    assert calls(cw_sim) == before  # no request while the circuit is open
    assert caplog.text.count("pausing calls") == 1
    cw_sim.faults.clear()
    await asyncio.sleep(0.5)
    assert (await get(client, cw_sim)).status == 200
    assert "circuit closed" in caplog.text


async def test_open_circuit_names_the_pause_and_the_upstream_error_that_opened_it(
        client: PsaClient, cw_sim: Any) -> None:
    cw_sim.faults.status(PATH, 503, count=None)
    for _ in range(3):
        with pytest.raises(PsaUnavailable):
            await get(client, cw_sim)
    with pytest.raises(PsaCircuitOpen) as caught:
        await get(client, cw_sim)
    message = str(caught.value)
    assert "paused for" in message
    assert f"{PATH}: HTTP 503 after" in message


def test_retry_after_parsing_and_url_redaction() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("-1") == 0.0
    assert parse_retry_after("100000") == 300.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert redact_url("https://x/api?api_key=s3cret&page=2") == "https://x/api?api_key=***&page=2"


async def test_a_retried_request_is_logged_once_at_info_with_how_it_ended(
        client: PsaClient, cw_sim: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="psad.http")
    cw_sim.faults.status(PATH, 503, count=2)
    await get(client, cw_sim)
    cw_sim.faults.status(PATH, 502, count=None)
    with pytest.raises(PsaUnavailable):
        await get(client, cw_sim)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(lines) == 2, lines
    assert lines[0].endswith("2 retries (503, 503), then HTTP 200")
    assert "3 retries (502, 502, 502), then failed: " in lines[1]
