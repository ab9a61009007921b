"""The API contract (OpenAPI + schemathesis on a live daemon) and hostile requests."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, TOKEN, free_port, write_config
from psad.web.auth import PUBLIC_PATHS
from psad.web.openapi import DOCUMENT
from daemon_process import DaemonProcess

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_openapi_document_covers_every_api_route(daemon_client: Any) -> None:
    served = await (await daemon_client.get("/api/openapi.json")).json()
    assert served == DOCUMENT
    routes = {(r.method, r.resource.canonical) for r in daemon_client.app.router.routes()
              if r.resource is not None and r.resource.canonical.startswith("/api/")
              and r.method != "HEAD"}
    documented = {(m.upper(), p) for p, ops in DOCUMENT["paths"].items() for m in ops}
    assert routes - {("GET", "/api/openapi.json")} <= documented


async def test_every_route_but_health_login_and_static_requires_auth(daemon_client: Any) -> None:
    checked = 0
    for route in daemon_client.app.router.routes():
        canonical = route.resource.canonical if route.resource else ""
        if route.method == "HEAD" or canonical in PUBLIC_PATHS or canonical.startswith("/static"):
            continue
        resp = await daemon_client.request(route.method, concrete(canonical),
                                           allow_redirects=False)
        assert resp.status in (401, 303), (route.method, canonical, resp.status)
        if resp.status == 303:
            assert resp.headers["Location"].startswith("/login")
        checked += 1
    assert checked >= 8


async def test_oversized_bodies_and_queries_are_refused(daemon_client: Any, auth: dict) -> None:
    big = await daemon_client.post("/api/integrations/demo-connectwise/sync", headers=auth,
                                   data=b"x" * (200 * 1024))
    assert big.status == 413
    long_query = await daemon_client.get("/api/runs?integration=" + "a" * 5000, headers=auth)
    assert long_query.status == 400
    huge_line = await daemon_client.get("/api/runs?" + "a=b&" * 4000, headers=auth)
    assert huge_line.status in (400, 414, 431)


SCHEMATHESIS_RUNS = {"sqlite": ("7", 1.0), "postgresql": ("8", 0.5)}
"""Seed and share of the examples per backend: the API code is the same on both, so the
PostgreSQL run fuzzes what its store is asked with half the examples and other inputs
(together the two runs send more distinct requests than one full run would)."""


@pytest.mark.usefixtures("database")
async def test_schemathesis_finds_no_server_errors_or_schema_violations(
        tmp_path: Path, cw_sim: Any, store_backend: str) -> None:
    seed, share = SCHEMATHESIS_RUNS[store_backend]
    examples = max(1, round(int(os.environ.get("PSAD_SCHEMATHESIS_EXAMPLES", "15")) * share))
    port = free_port()
    daemon = DaemonProcess(write_config(tmp_path, [cw_sim], port=port), port)
    await daemon.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS), "run", f"{daemon.url}/api/openapi.json",
            "-H", f"Authorization: Bearer {TOKEN}", "--checks", "all",
            "-n", str(examples), "--seed", seed,
            "--generation-database", "none", "--request-timeout", "20",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"})
        out, _ = await asyncio.wait_for(proc.communicate(), 300)
    finally:
        await daemon.stop()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-4000:]
    assert " passed" in text
