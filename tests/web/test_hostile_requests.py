"""Hostile request details: numbers in other scripts, malformed session cookies."""

from __future__ import annotations

from typing import Any

import pytest

NAME = "demo-connectwise"


@pytest.mark.parametrize("path", [
    "/api/runs/%C2%B2",                    # superscript two
    "/api/runs/%D9%A1%D9%A2",              # Arabic-Indic twelve
    "/api/runs?limit=%D9%A3",              # Arabic-Indic three
    "/api/runs?before=%EF%BC%91",          # fullwidth one
    f"/api/integrations/{NAME}/tickets/%D9%A1%D9%A2",
    f"/api/integrations/{NAME}/tickets?company=%D9%A1%D9%A2",
    f"/api/integrations/{NAME}/tickets?page=%C2%B2",
])
async def test_numbers_outside_ascii_are_a_400(daemon_client: Any, auth: dict,
                                               path: str) -> None:
    resp = await daemon_client.get(path, headers=auth)
    assert resp.status == 400, await resp.text()
    assert "error" in await resp.json()


async def test_a_run_page_takes_only_ascii_digits(daemon_client: Any, auth: dict) -> None:
    resp = await daemon_client.get("/runs/%D9%A1", headers=auth)
    assert resp.status == 404
    ok = await daemon_client.get("/runs/1", headers=auth)
    assert ok.status == 200
