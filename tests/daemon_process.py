"""A psad daemon in its own process, for the tests that need a real one (any folder)."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from conftest import ROOT, TOKEN

PSAD = [sys.executable, "-m", "psad.cli"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class DaemonProcess:
    def __init__(self, config: Path, port: int) -> None:
        self.config = config
        self.url = f"http://127.0.0.1:{port}"
        self.proc: asyncio.subprocess.Process | None = None
        self.log = config.parent / "daemon.log"

    async def start(self, timeout: float = 30.0) -> None:
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *PSAD, "run", "--config", str(self.config), cwd=ROOT, stdout=log, stderr=log)
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession() as session:
            while asyncio.get_running_loop().time() < deadline:
                try:
                    async with session.get(self.url + "/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if self.proc.returncode is not None:
                    break
                await asyncio.sleep(0.05)
        raise AssertionError("daemon did not become ready:\n" + self.log.read_text())

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), 30)

    async def api(self, method: str, path: str) -> Any:
        async with aiohttp.ClientSession() as session:
            async with session.request(method, self.url + path, headers=AUTH) as resp:
                return await resp.json()


async def wait_outcome(daemon: DaemonProcess, run_id: int, outcomes: tuple[str, ...],
                       timeout: float = 60) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        run = await daemon.api("GET", f"/api/runs/{run_id}")
        if run["outcome"] in outcomes:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {outcomes}")
