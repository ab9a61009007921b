"""Config: typed objects from TOML, and every error named by its key path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from psad.cli import main
from psad.config import SecretRef, read_secrets
from psad.config_file import load_config
from psad.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
database = "psad.db"
[server]
listen = "127.0.0.1:9000"
api_token = { env = "PSAD_TEST_TOKEN" }

[[integrations]]
name = "acme"
kind = "connectwise"
base_url = "https://api-na.myconnectwise.net/v4_6_release/apis/3.0"
company_id = "acme"
public_key = { env = "ACME_PUB" }
private_key = { file = "priv.key" }
client_id = "guid"
timezone = "Europe/London"
schedule = "30 3 * * 1-5"
[integrations.company_filter]
statuses = ["Active"]
[integrations.custom_fields]
assets = ["Backup"]
contacts = ["VIP"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "psad.toml"
    path.write_text(text)
    return path


def test_valid_config_becomes_frozen_typed_objects(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.database == tmp_path / "psad.db"
    assert (config.server.listen_host, config.server.listen_port) == ("127.0.0.1", 9000)
    (acme,) = config.integrations
    assert acme.base_url.endswith("/apis/3.0/")
    assert acme.settings == {"company_id": "acme", "client_id": "guid"}
    assert acme.secrets["public_key"] == SecretRef(env="ACME_PUB")
    assert acme.secrets["private_key"] == SecretRef(file=tmp_path / "priv.key")
    assert acme.company_filter.statuses == ("Active",)
    assert acme.asset_custom_fields == ("Backup",)
    assert acme.contact_custom_fields == ("VIP",)
    with pytest.raises(AttributeError):
        acme.name = "other"  # type: ignore[misc]


def test_every_problem_is_reported_with_its_key_path(tmp_path: Path) -> None:
    bad = """
database = "x.db"
bogus = 1
[sync]
workers = 0
max_delete_share = 2.0
[[integrations]]
name = "ok"
kind = "connectwise"
base_url = "https://cw.example/v4_6_release/apis/3.0/"
company_id = "a"
public_key = "inline-secret"
private_key = { env = "X" }
client_id = "g"
[[integrations]]
name = "Bad Name"
kind = "nosuchpsa"
base_url = "ftp://x"
[[integrations]]
name = "ok"
kind = "connectwise"
base_url = "https://cw.example/"
schedule = "61 * * * *"
timezone = "Mars/Base"
company_id = "a"
private_key = { env = "X", file = "y" }
client_id = "g"
"""
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, bad))
    text = "\n".join(caught.value.problems)
    for expected in [
        "bogus: unknown key",
        "sync.workers: must be between 1 and 64",
        "sync.max_delete_share: must be between 0 and 1",
        "integrations[0].public_key: secrets are never inline",
        "integrations[1].name: must be lower-case",
        "integrations[1].kind: unknown kind 'nosuchpsa'",
        "integrations[1].base_url: must be an http(s) URL",
        "integrations[2].schedule: invalid cron expression",
        "integrations[2].timezone: unknown time zone 'Mars/Base'",
        "integrations[2].public_key: is required for kind 'connectwise'",
        "integrations[2].private_key: needs exactly one of env, file, credential",
        "integrations[2].name: duplicate name 'ok' (also integrations[0])",
    ]:
        assert expected in text, f"missing {expected!r} in:\n{text}"


def test_check_config_exits_2_listing_errors_and_0_when_valid(tmp_path: Path) -> None:
    bad = write(tmp_path, 'database = 5\n[[integrations]]\nname = "x"\n')
    result = subprocess.run([sys.executable, "-m", "psad.cli", "check-config", str(bad)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "database: must be a non-empty string" in result.stderr
    assert "integrations[0].kind: is required" in result.stderr
    assert "integrations[0].base_url: is required" in result.stderr

    good = write(tmp_path, GOOD)
    assert main(["check-config", "--no-secrets", str(good)]) == 0


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "database = \n"))
    assert "invalid TOML" in caught.value.problems[0]
    assert "line 1" in caught.value.problems[0]


def test_the_shipped_example_config_is_valid() -> None:
    config = load_config(ROOT / "etc" / "psad.toml")
    assert config.integrations[0].kind == "connectwise"


async def test_secrets_are_read_from_env_file_and_credentials_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "priv.key").write_text("file-secret\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "token").write_text("cred-secret")
    monkeypatch.setenv("ACME_PUB", "env-secret")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    config = load_config(write(tmp_path, GOOD))
    assert await read_secrets(config.integrations[0]) == {
        "public_key": "env-secret", "private_key": "file-secret"}
    assert await SecretRef(credential="token").read() == "cred-secret"


async def test_missing_secret_is_reported_with_the_integration_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACME_PUB", raising=False)
    config = load_config(write(tmp_path, GOOD))
    with pytest.raises(ConfigError) as caught:
        await read_secrets(config.integrations[0])
    assert any("integrations.acme.public_key: environment variable ACME_PUB is not set" in p
               for p in caught.value.problems)
