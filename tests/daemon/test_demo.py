"""``psad demo`` and ``make demo``: a port of your choice, a clear busy-port error,
a runtime-only install, and nothing left behind in /tmp."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

DEMO = [sys.executable, "-m", "psad.cli", "demo", "--companies", "4", "--assets", "20",
        "--contacts", "10"]


async def start_demo(*args: str) -> tuple[asyncio.subprocess.Process, Path, str]:
    """A demo process, once its banner is out; its folder and dashboard URL."""
    proc = await asyncio.create_subprocess_exec(
        *DEMO, *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    banner = ""
    while "Ctrl-C" not in banner:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line, f"the demo ended before its banner: {banner}"
        banner += line.decode()
    folder = re.search(r"^\s*files\s+(\S+)$", banner, flags=re.M)
    url = re.search(r"dashboard\s+(http://\S+?)/\s", banner)
    assert folder and url, banner
    return proc, Path(folder.group(1)), url.group(1)


async def stop(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGINT)
    return await asyncio.wait_for(proc.wait(), 60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_demo_listens_on_the_port_asked_for_and_removes_its_folder_on_exit() -> None:
    port = free_port()
    proc, folder, url = await start_demo("--port", str(port))
    assert url == f"http://127.0.0.1:{port}"
    assert (folder / "psad.toml").is_file() and folder.name.startswith("psad-demo-")
    assert await stop(proc) == 0
    assert not folder.exists()


async def test_demo_keeps_its_folder_with_keep() -> None:
    proc, folder, _ = await start_demo("--port", str(free_port()), "--keep")
    try:
        assert await stop(proc) == 0
        assert (folder / "psad.db").is_file()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def test_a_busy_port_is_one_clear_line_and_no_traceback() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            *DEMO, "--port", str(port), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert err.decode().strip().splitlines()[-1] == (
        f"psad: port {port} is already in use; pick another with --port (make demo PORT=...)")
    assert "Traceback" not in err.decode() + out.decode()


def test_make_demo_passes_the_port_and_installs_only_the_runtime() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    dry = subprocess.run([make, "-n", "-B", "demo", "PORT=8123"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert "psad demo --port 8123" in dry
    installs = [line for line in dry.splitlines() if "pip install" in line and "-e" in line]
    assert installs and all("[test]" not in line for line in installs), installs
    test = subprocess.run([make, "-n", "-B", "test"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    assert "pip install --quiet -e '.[test]'" in test
