"""Running as a service: sd_notify, watchdog, reload, the unit file, alert rules, logs, secrets."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from conftest import ROOT, TOKEN, queue_idle, require_tool, write_config
from psad.config_file import load_config
from psad.daemon import Daemon
from psad.logs import RedactingFormatter, redact
from psad.simulators.serve import RunningSimulator
from psad.systemd import Notifier, watchdog_interval

UNIT = ROOT / "systemd" / "psad.service"
ALERTS = ROOT / "etc" / "prometheus"
EXPOSURE_LIMIT = "15"  # systemd-analyze's --threshold is exposure x 10: 1.5


class NotifySocket:
    """A real AF_UNIX datagram socket standing in for systemd's."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[dict[str, str]] = []

    def drain(self) -> list[dict[str, str]]:
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return self.messages
            self.messages.append(dict(line.split("=", 1) for line in data.decode().splitlines()))

    async def wait_for(self, key: str, value: str | None = None, timeout: float = 10) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for message in self.drain():
                if key in message and (value is None or message[key] == value):
                    return message
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {key} notification; got {self.messages}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    sock = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock.path))
    yield sock
    sock.close()


def test_notifier_is_silent_without_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert Notifier().ready("x") is False


def test_watchdog_interval_is_half_the_period_and_only_for_our_pid(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() == 2.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert watchdog_interval() is None


@pytest.mark.usefixtures("database")
async def test_daemon_notifies_ready_after_binding_then_watchdog_status_and_stopping(
        tmp_path: Path, cw_sim: RunningSimulator, notify_socket: NotifySocket,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    config = load_config(write_config(tmp_path, [cw_sim], port=0))
    daemon = Daemon(config, config_path=tmp_path / "psad.toml")
    task = asyncio.create_task(daemon.run())
    ready = await notify_socket.wait_for("READY", "1")
    async with aiohttp.ClientSession() as session:  # the port is bound by the time READY arrives
        async with session.get(daemon.url + "/healthz") as resp:
            assert resp.status == 200
    assert "integrations" in ready["STATUS"]
    assert gc.get_freeze_count() > 0  # start-up objects kept out of full collections
    gc.unfreeze()
    await notify_socket.wait_for("WATCHDOG", "1")
    await notify_socket.wait_for("STATUS")
    daemon.stopping.set()
    await notify_socket.wait_for("STOPPING", "1")
    await asyncio.wait_for(task, 30)


@pytest.mark.usefixtures("database")
async def test_reload_applies_changes_and_keeps_queued_work(
        tmp_path: Path, cw_sim: RunningSimulator, notify_socket: NotifySocket) -> None:
    path = write_config(tmp_path, [cw_sim], port=0)
    daemon = Daemon(load_config(path), config_path=path)
    task = asyncio.create_task(daemon.run())
    await notify_socket.wait_for("READY", "1")
    rt = daemon.runtime
    cw_sim.faults.latency = 0.05
    submission = await rt.queue.submit("demo-connectwise", "force", "test")
    original = path.read_text()
    second = original.split("[[integrations]]")[1].replace('name = "demo-connectwise"',
                                                             'name = "second"')
    path.write_text(original.replace('schedule = "0 4 * * *"', 'schedule = "15 5 * * *"')
                    + "[[integrations]]" + second)
    os.kill(os.getpid(), signal.SIGHUP)
    await notify_socket.wait_for("RELOADING", "1")
    for _ in range(200):
        if rt.config.integration("second") is not None:
            break
        await asyncio.sleep(0.02)
    assert rt.config.integration("demo-connectwise").schedule == "15 5 * * *"
    assert rt.scheduler.scheduler.get_job("second") is not None
    cw_sim.faults.latency = 0
    for _ in range(400):  # the run queued before the reload still runs to the end
        detail = await rt.store.get_run(submission.run_id)
        outcome = detail.run.outcome if detail else None
        if outcome not in ("queued", "running"):
            break
        await asyncio.sleep(0.05)
    assert outcome == "succeeded"

    path.write_text("this is [not toml")
    assert await daemon.reload() is False
    assert rt.config.integration("second") is not None  # the old config stays in force
    path.write_text(original.replace('kind = "connectwise"', 'kind = "nosuch"'))
    assert await daemon.reload() is False

    path.write_text(original)  # drops "second" again
    assert await daemon.reload() is True
    assert rt.config.integration("second") is None
    assert rt.scheduler.scheduler.get_job("second") is None
    daemon.stopping.set()
    await asyncio.wait_for(task, 30)


def test_unit_file_verifies_and_is_hardened(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze")
    unit = tmp_path / "psad.service"
    psad = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "psad"
    if not psad.exists():
        psad = ROOT / ".venv" / "bin" / "psad"
    unit.write_text(UNIT.read_text().replace("/opt/psad/venv/bin/psad", str(psad)))
    verify = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    security = subprocess.run([analyze, "security", "--offline=yes",
                               f"--threshold={EXPOSURE_LIMIT}", str(unit)],
                              capture_output=True, text=True)
    assert security.returncode == 0, security.stdout[-600:] + security.stderr
    text = UNIT.read_text()
    for needed in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "DynamicUser=yes",
                   "StateDirectory=psad", "ConfigurationDirectory=psad", "LoadCredential=",
                   "ExecReload=", "LimitNOFILE="):
        assert needed in text


def test_alert_rules_pass_promtool_check_and_unit_tests() -> None:
    promtool = require_tool("promtool")
    check = subprocess.run([promtool, "check", "rules", "psad-alerts.yml"], cwd=ALERTS,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run([promtool, "test", "rules", "psad-alerts.test.yml"], cwd=ALERTS,
                           capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    names = {"PsadDown", "PsadNightlySyncOverdue", "PsadSyncFailingRepeatedly",
             "PsadRejectedRecords", "PsadPsaThrottling", "PsadPsaErrors", "PsadQueueBackingUp"}
    test_text = (ALERTS / "psad-alerts.test.yml").read_text()
    assert all(f"alertname: {name}" in test_text for name in names)


def test_journald_lines_carry_syslog_priorities_and_redact_credentials() -> None:
    formatter = RedactingFormatter(journald=True)

    def line(level: int, message: str) -> str:
        return formatter.format(logging.LogRecord("psad.x", level, __file__, 1, message, None,
                                                  None))

    assert line(logging.ERROR, "boom").startswith("<3>ERROR psad.x: boom")
    assert line(logging.INFO, "hi").startswith("<6>")
    assert line(logging.WARNING, "careful\nsecond line").count("\n") == 0
    leaked = line(logging.INFO, "headers {'Authorization': 'Basic cHNhZDpzZWNyZXQ='} "
                                "url https://x/api?api_key=abc123&page=2 token=xyz")
    assert "cHNhZDpzZWNyZXQ=" not in leaked and "abc123" not in leaked and "xyz" not in leaked
    assert "page=2" in leaked
    assert "hunter2" not in redact("password: hunter2")
    assert "sk-live-1" not in redact("Authorization: Bearer sk-live-1")


@pytest.mark.usefixtures("database")
async def test_secrets_never_appear_in_logs_responses_or_metrics(
        tmp_path: Path, cw_sim: RunningSimulator, aiohttp_client: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    from prometheus_client import CollectorRegistry

    from psad.metrics import Metrics
    from psad.runtime import Runtime
    from psad.web.app import create_app

    caplog.set_level(logging.DEBUG)
    path = write_config(tmp_path, [cw_sim], port=0)
    planted = {"public_key": "PLANTED-public-7f3a9", "private_key": "PLANTED-private-91c2e"}
    for key, value in planted.items():
        (tmp_path / "secrets" / f"demo-connectwise-{key}").write_text(value)
    runtime = Runtime(load_config(path), Metrics(CollectorRegistry()))
    client = await aiohttp_client(create_app(runtime))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    while not await queue_idle(runtime):  # the sync fails: wrong keys
        await asyncio.sleep(0.05)
    bodies = []
    for url in ("/api/runs", "/api/runs/1", "/api/integrations", "/metrics",
                "/api/integrations/demo-connectwise/tickets",
                "/api/integrations/demo-connectwise/tickets/1", "/healthz",
                "/", "/runs", "/runs/1", "/integrations/demo-connectwise/tickets",
                "/integrations/demo-connectwise/companies"):
        resp = await client.get(url, headers=auth)
        bodies.append(await resp.text())
    run = await (await client.get("/api/runs/1", headers=auth)).json()
    assert run["outcome"] == "failed" and "401" in run["error"]
    import base64

    basic = base64.b64encode(f"psad-demo+{planted['public_key']}:{planted['private_key']}"
                             .encode()).decode()
    haystack = "\n".join(bodies) + caplog.text + "\n".join(
        RedactingFormatter(journald=True).format(r) for r in caplog.records)
    for secret in (*planted.values(), basic, TOKEN):
        assert secret not in haystack
