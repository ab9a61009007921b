"""``psad run`` that cannot start says why in one line, exits 1 and touches no run."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import TOKEN
from psad.store import SCHEMA_VERSION, Store, utcnow


def write_config(directory: Path, database: Path, port: int) -> Path:
    secrets = directory / "secrets"
    secrets.mkdir(exist_ok=True)
    for name, value in {"api-token": TOKEN, "public": "public-key-0123",
                        "private": "private-key-0123"}.items():
        (secrets / name).write_text(value)
    path = directory / "psad.toml"
    path.write_text(f"""database = "{database}"
[server]
listen = "127.0.0.1:{port}"
api_token = {{ file = "secrets/api-token" }}

[[integrations]]
name = "cw"
kind = "connectwise"
base_url = "http://127.0.0.1:9/v4_6_release/apis/3.0"
company_id = "acme"
client_id = "5f3c0f0e-7d1a-4c6b-9a52-2e8f4b1d9c70"
public_key = {{ file = "secrets/public" }}
private_key = {{ file = "secrets/private" }}
schedule = "0 4 * * *"
""")
    return path


def psad_run(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "psad.cli", "run", "-c", str(config)],
                          capture_output=True, text=True, timeout=60)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " ERROR " in line]


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    [line] = error_lines(result.stderr)
    for text in expected:
        assert text in line


async def test_busy_port_is_one_line_and_adds_no_run_per_attempt(tmp_path: Path) -> None:
    database = tmp_path / "psad.db"
    store = await Store.open(database)
    left_running = await store.create_run("cw", "nightly", "scheduler", full=False,
                                          queued_at=utcnow())
    await store.update_run(left_running, outcome="running", started_at=utcnow())
    await store.close()
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        config = write_config(tmp_path, database, port)
        for _ in range(2):
            assert_one_clear_line(psad_run(config), f"127.0.0.1:{port}", "server.listen",
                                  "in use")
    with sqlite3.connect(database) as conn:
        runs = conn.execute("SELECT id, outcome FROM runs").fetchall()
    assert runs == [(left_running, "running")]  # closed by the next start that can listen


def test_database_that_is_a_directory_is_one_line(tmp_path: Path) -> None:
    database = tmp_path / "psad.db"
    database.mkdir()
    assert_one_clear_line(psad_run(write_config(tmp_path, database, 0)),
                          f"cannot open database {database}")


def test_database_under_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("not a directory")
    database = tmp_path / "state" / "psad.db"
    assert_one_clear_line(psad_run(write_config(tmp_path, database, 0)),
                          f"cannot open database {database}")


def test_database_from_a_newer_psad_is_one_line(tmp_path: Path) -> None:
    database = tmp_path / "psad.db"
    with sqlite3.connect(database) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    assert_one_clear_line(psad_run(write_config(tmp_path, database, 0)),
                          f"cannot open database {database}", "upgrade psad")
