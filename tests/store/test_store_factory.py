"""open_store: the configured database, SQLite or PostgreSQL, opened the one way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import PostgresServer, free_port
from psad.config import PostgresDatabase, SecretRef
from psad.logs import redact
from psad.store import DatabaseUnavailable, Store
from psad.store.factory import open_store
from psad.store.postgres import PostgresStore


async def test_a_path_opens_sqlite_and_a_url_opens_postgres_with_its_password_redacted(
        tmp_path: Path, postgres_url: str) -> None:
    local = await open_store(tmp_path / "psad.db")
    try:
        assert isinstance(local, Store) and await local.ping()
    finally:
        await local.close()
    # the test cluster trusts loopback, so any password is accepted; it must be read and hidden
    (tmp_path / "db.pw").write_text("s3cret-db-password\n")
    shared = await open_store(PostgresDatabase(postgres_url, SecretRef(file=tmp_path / "db.pw")))
    try:
        assert isinstance(shared, PostgresStore) and await shared.ping()
    finally:
        await shared.close()
    assert "s3cret-db-password" not in redact("login with s3cret-db-password failed")


async def test_an_unreachable_postgres_is_named_without_its_password() -> None:
    url = f"postgresql://psad:pw-in-url@127.0.0.1:{free_port()}/psad"
    with pytest.raises(DatabaseUnavailable) as err:
        await PostgresStore.open(url)
    assert "postgresql://psad@127.0.0.1:" in str(err.value)
    assert "pw-in-url" not in str(err.value)


async def test_instances_opening_one_database_together_migrate_it_once(
        postgres_server: PostgresServer) -> None:
    url = postgres_server.createdb()
    # each would fail creating the tables another has just created, were migration unlocked
    stores = await asyncio.gather(*(PostgresStore.open(url) for _ in range(3)))
    try:
        ids = [await s.create_run("acme", "manual", "test", full=False,
                                  queued_at=datetime.now(UTC))
               for s in stores]
        assert len(set(ids)) == 3
    finally:
        for store in stores:
            await store.close()
