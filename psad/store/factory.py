"""One way to open the configured store: a file path is SQLite, a postgresql:// URL PostgreSQL.

The daemon, ``psad sync-once`` and the benchmarks all open their store here.
"""

from __future__ import annotations

from pathlib import Path

from psad.config import PostgresDatabase
from psad.logs import register_secret
from psad.store import Store
from psad.store.contract import StoreContract
from psad.store.postgres import LEASE_SECONDS, PostgresStore


async def open_store(database: Path | PostgresDatabase, *,
                     run_lease_seconds: float = LEASE_SECONDS) -> StoreContract:
    """Open (creating and migrating) the configured database (``sync.run_lease_seconds``
    applies to PostgreSQL, shared by instances; SQLite has one process).

    Raises :class:`psad.store.DatabaseUnavailable` naming it when it cannot be
    used, and :class:`psad.errors.ConfigError` when its password cannot be read.
    """
    if isinstance(database, PostgresDatabase):
        password = await database.password.read() if database.password else None
        if password:
            register_secret(password)
        return await PostgresStore.open(database.url, password=password,
                                        lease_seconds=run_lease_seconds)
    return await Store.open(database)
