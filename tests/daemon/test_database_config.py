"""The ``database`` setting: a file path keeps SQLite, a postgresql:// URL selects PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from psad.config import PostgresDatabase, SecretRef
from psad.config_file import load_config
from psad.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SERVER = """
[server]
api_token = { env = "PSAD_DB_T_TOKEN" }
"""


def write(tmp_path: Path, top: str) -> Path:
    path = tmp_path / "psad.toml"
    path.write_text(top + SERVER)
    return path


def test_a_postgresql_url_selects_postgres_with_the_password_as_a_secret(
        tmp_path: Path) -> None:
    config = load_config(write(tmp_path, 'database = "postgresql://psad@db.example:5432/psad"\n'
                                         'database_password = { file = "db.pw" }\n'))
    assert config.database == PostgresDatabase(
        url="postgresql://psad@db.example:5432/psad",
        password=SecretRef(file=tmp_path / "db.pw"))
    assert SecretRef(file=tmp_path / "db.pw") in config.secrets()
    assert config.sync.run_lease_seconds == 60
    leased = load_config(write(tmp_path, 'database = "postgresql://psad@db.example/psad"\n'
                                         '[sync]\nrun_lease_seconds = 15\n'))
    assert leased.sync.run_lease_seconds == 15
    local = load_config(write(tmp_path, 'database = "data/psad.db"\n'))
    assert local.database == tmp_path / "data" / "psad.db"


def test_a_password_inside_the_url_or_beside_a_file_database_is_refused(
        tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as inline:
        load_config(write(tmp_path, 'database = "postgresql://psad:hunter2hunter2@db/psad"\n'))
    (problem,) = inline.value.problems
    assert problem.startswith("database: passwords are never inline")
    assert "hunter2" not in problem
    with pytest.raises(ConfigError) as beside:
        load_config(write(tmp_path, 'database = "psad.db"\n'
                                    'database_password = { env = "PSAD_DB_PW" }\n'))
    assert beside.value.problems == ["database_password: is only for a postgresql:// database"]


def test_check_config_accepts_a_postgresql_database_and_reads_its_password(
        tmp_path: Path) -> None:
    path = write(tmp_path, 'database = "postgres://psad@127.0.0.1/psad?sslmode=disable"\n'
                           'database_password = { env = "PSAD_DB_T_PW" }\n')
    env = {**os.environ, "PSAD_DB_T_TOKEN": "t" * 16}

    def check(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "psad.cli", "check-config", str(path)],
                              cwd=ROOT, env={**env, **extra}, capture_output=True, text=True)

    missing = check({})
    assert missing.returncode == 2
    assert "database_password: environment variable PSAD_DB_T_PW is not set" in missing.stderr
    ok = check({"PSAD_DB_T_PW": "p" * 12})
    assert ok.returncode == 0, ok.stderr
    assert "2 secret(s) readable" in ok.stdout
