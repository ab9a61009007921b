"""The database and the demo's secrets are private whatever the umask."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from psad.model import Company, Entity
from psad.store import Store, utcnow
from psad.store.schema import MIGRATIONS


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("permissive_umask")
async def test_database_and_its_wal_files_are_owner_only_in_an_owner_only_directory(
        tmp_path: Path) -> None:
    path = tmp_path / "state" / "psad.db"
    store = await Store.open(path)
    try:
        await store.apply_page("acme", Entity.COMPANY,
                               [Company(psa_id="1", name="Acme", website=None, status=None,
                                        types=())], now=utcnow())
        files = [path, path.with_name("psad.db-wal"), path.with_name("psad.db-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert mode(path.parent) == 0o700
    finally:
        await store.close()


@pytest.mark.usefixtures("permissive_umask")
async def test_demo_secret_files_are_owner_only(tmp_path: Path) -> None:
    from psad.demo import start_demo

    demo = await start_demo(tmp_path / "demo", port=0, token="demo-token-0123456789",
                            companies=2, assets=2, contacts=2, kinds=("connectwise", "halo"))
    try:
        secrets = sorted((tmp_path / "demo" / "secrets").iterdir())
        assert len(secrets) > 2
        assert {f.name: mode(f) for f in secrets} == {f.name: 0o600 for f in secrets}
    finally:
        await demo.stop()


@pytest.mark.usefixtures("permissive_umask")
async def test_backup_before_a_migration_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "psad.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute("PRAGMA user_version = 1")
    path.chmod(0o600)
    store = await Store.open(path)
    await store.close()
    [backup] = tmp_path.glob("psad.db.v1.bak")
    assert mode(backup) == 0o600
