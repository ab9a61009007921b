"""Config as data: the settings tables drive types, defaults, secrets and the documented
example; check-config resolves every secret; client commands need only a URL and a token."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from conftest import TOKEN, write_config
from psad.cli import main
from psad.config import (COMPANY_FILTER_SETTINGS, CUSTOM_FIELDS_SETTINGS, INTEGRATION_SETTINGS,
                         SERVER_SETTINGS, SYNC_SETTINGS, TOP_SETTINGS, SecretRef, SyncConfig,
                         read_secrets)
from psad.config_file import connector_settings, load_config
from psad.errors import ConfigError
from psad.logs import redact
from psad.metrics import Metrics
from psad.runtime import Runtime
from psad.simulators.serve import serve_app
from psad.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "etc" / "psad.toml"
ASSIGNMENT = re.compile(r"^[#\s]*([a-z_]+)\s*=")

CONFIG = """
database = "psad.db"
[server]
api_token = {{ env = "PSAD_T_TOKEN" }}
[[integrations]]
name = "shop"
kind = "syncro"
base_url = "https://shop.syncromsp.com/api/v1/"
api_key = {{ file = "syncro.key" }}
{extra}
"""


def write(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "psad.toml"
    path.write_text(CONFIG.format(extra=extra))
    return path


def check_config(path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "psad.cli", "check-config", *flags, str(path)],
                          capture_output=True, text=True, cwd=ROOT)


# -- typed settings ----------------------------------------------------------------------

@pytest.mark.parametrize(("table", "line", "problem"), [
    ("[[integrations]]", 'requests_per_minute = "lots"',
     "integrations[0].requests_per_minute: must be an integer"),
    ("[[integrations]]", "requests_per_minute = 0",
     "integrations[0].requests_per_minute: must be between 1"),
    ("[[integrations]]", 'enabled = "yes"', "integrations[0].enabled: must be true or false"),
    ("[[integrations]]", "max_concurrency = 2.5",
     "integrations[0].max_concurrency: must be an integer"),
    ("[[integrations]]", "website_field = 7",
     "integrations[0].website_field: must be a non-empty string"),
    ("[server]", 'trusted_proxies = "10.0.0.1"', "server.trusted_proxies: must be a list"),
    ("[server]", "max_connections = true", "server.max_connections: must be an integer"),
])
def test_a_wrong_type_anywhere_is_a_key_path_error_with_exit_2(
        tmp_path: Path, table: str, line: str, problem: str) -> None:
    path = write(tmp_path)
    path.write_text(path.read_text().replace(f"{table}\n", f"{table}\n{line}\n"))
    result = check_config(path, "--no-secrets")
    assert result.returncode == 2, result.stdout
    assert problem in result.stderr and "Traceback" not in result.stderr


def test_a_string_where_sync_wants_a_number_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.write_text(path.read_text() + '[sync]\nworkers = "2"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == ["sync.workers: must be an integer, got '2'"]


def test_typed_connector_settings_reach_the_connector_checked(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "requests_per_minute = 60"))
    assert config.integrations[0].settings == {"requests_per_minute": "60"}


def test_defaults_are_stated_once_in_the_tables() -> None:
    defaults = {s.name: s.default for s in SYNC_SETTINGS}
    assert SyncConfig() == SyncConfig(**defaults)


def test_every_key_appears_documented_in_the_example_config() -> None:
    lines = EXAMPLE.read_text().splitlines()

    def documented(names: list[str], block: list[str], where: str) -> None:
        for name in names:
            index = next((i for i, line in enumerate(block)
                          if (m := ASSIGNMENT.match(line)) and m.group(1) == name), None)
            assert index is not None, f"{where}: {name} is not in etc/psad.toml"
            if "#" in block[index].split("=", 1)[1]:
                continue  # a trailing comment documents it
            above = index - 1
            while above >= 0 and ASSIGNMENT.match(block[above]):
                above -= 1
            prose = block[above].lstrip("# ") if above >= 0 else ""
            assert block[above].lstrip().startswith("#") and prose and prose[0] != "[", \
                f"{where}: {name} has no comment explaining it"

    for table in (TOP_SETTINGS, SERVER_SETTINGS, SYNC_SETTINGS, INTEGRATION_SETTINGS,
                  COMPANY_FILTER_SETTINGS, CUSTOM_FIELDS_SETTINGS):
        documented([s.name for s in table], lines, "common")
    for kind, table in connector_settings().items():
        start = next(i for i, line in enumerate(lines)
                     if re.match(rf'^[#\s]*kind = "{kind}"', line))
        end = next((i for i in range(start, len(lines)) if "[[integrations]]" in lines[i]),
                   len(lines))
        documented([s.name for s in table], lines[start:end], kind)


# -- secrets -----------------------------------------------------------------------------

def test_check_config_resolves_every_secret_and_names_what_is_missing(
        tmp_path: Path) -> None:
    path = write(tmp_path)
    result = check_config(path)
    assert result.returncode == 2
    assert "server.api_token: environment variable PSAD_T_TOKEN is not set" in result.stderr
    assert "integrations.shop.api_key: cannot read secret file" in result.stderr
    assert check_config(path, "--no-secrets").returncode == 0

    (tmp_path / "syncro.key").write_text("short\n")
    env = {"PSAD_T_TOKEN": "x" * 15}
    result = subprocess.run([sys.executable, "-m", "psad.cli", "check-config", str(path)],
                            capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, **env})
    assert result.returncode == 2
    assert "server.api_token: env:PSAD_T_TOKEN holds 15 characters; a secret here needs at " \
           "least 16" in result.stderr
    assert "integrations.shop.api_key: " in result.stderr and "at least 8" in result.stderr


def test_check_config_with_a_missing_credential_exits_2(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "psad.toml"
    path.write_text(CONFIG.format(extra="").replace('{ env = "PSAD_T_TOKEN" }',
                                                    '{ credential = "api-token" }'))
    (tmp_path / "syncro.key").write_text("a-long-enough-key")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert main(["check-config", str(path)]) == 2
    creds = tmp_path / "creds"
    creds.mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert main(["check-config", str(path)]) == 2  # the directory lacks the file
    (creds / "api-token").write_text(TOKEN)
    assert main(["check-config", str(path)]) == 0


async def test_a_secret_too_short_is_refused_and_never_redacted(tmp_path: Path) -> None:
    (tmp_path / "syncro.key").write_text("must\n")
    config = load_config(write(tmp_path))
    with pytest.raises(ConfigError) as caught:
        await read_secrets(config.integrations[0])
    assert caught.value.problems[0].startswith("integrations.shop.api_key:")
    assert redact("it must be at least 8 characters") == "it must be at least 8 characters"


def test_secret_refs_compare_by_where_they_point() -> None:
    assert SecretRef(env="X", key="a", min_length=16) == SecretRef(env="X")


# -- client commands ---------------------------------------------------------------------

def test_client_commands_with_the_shipped_config_say_what_is_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PSAD_URL", "PSAD_TOKEN", "CREDENTIALS_DIRECTORY")}
    for command in (["status"], ["runs"], ["sync", "acme-cw"]):
        result = subprocess.run([sys.executable, "-m", "psad.cli", *command, "-c", str(EXAMPLE)],
                                capture_output=True, text=True, cwd=ROOT, env=env)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert "server.api_token: credential 'api-token' needs $CREDENTIALS_DIRECTORY" \
            in result.stderr
        assert "set PSAD_TOKEN" in result.stderr
    result = subprocess.run([sys.executable, "-m", "psad.cli", "status", "-c", "/nonexistent.toml"],
                            capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot read" in result.stderr and "PSAD_URL and PSAD_TOKEN" in result.stderr
    bad_url = subprocess.run([sys.executable, "-m", "psad.cli", "status"], capture_output=True,
                             text=True, cwd=ROOT,
                             env={**env, "PSAD_URL": "localhost:8080", "PSAD_TOKEN": TOKEN})
    assert bad_url.returncode == 2 and "PSAD_URL: must be" in bad_url.stderr


@pytest.mark.usefixtures("database")
async def test_client_commands_need_only_psad_url_and_psad_token(
        tmp_path: Path, cw_sim: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    runtime = Runtime(load_config(write_config(tmp_path, [cw_sim])), Metrics(CollectorRegistry()))
    runner, url = await serve_app(create_app(runtime))
    try:
        monkeypatch.setenv("PSAD_URL", url)
        monkeypatch.setenv("PSAD_TOKEN", TOKEN)
        # no config file at all: the default path does not exist here
        assert await asyncio.to_thread(main, ["status", "-c", str(tmp_path / "none.toml")]) == 0
        assert "demo-connectwise" in capsys.readouterr().out
        monkeypatch.setenv("PSAD_TOKEN", "wrong-token-0123456789")
        assert await asyncio.to_thread(main, ["runs", "-c", str(tmp_path / "none.toml")]) == 1
        assert "HTTP 401" in capsys.readouterr().err
    finally:
        await runner.cleanup()
