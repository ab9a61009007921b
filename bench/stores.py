"""Store throughput, SQLite vs PostgreSQL, for the same pages.

    python -m bench.stores postgresql://USER@HOST:PORT/EMPTY_DB [--rows N] [--page N]

Each backend, opened through :func:`psad.store.factory.open_store` as the
daemon opens it, takes the same pages of assets three times, one transaction
per page: all new (inserts), the same again (nothing changes), then every row
changed (updates), each pass inside one run as a sync writes it, under an
integration name of its own (the PostgreSQL database may hold other data).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
import uuid
from pathlib import Path

from bench.service import _assets
from bench.syncs import workdir
from psad.config import PostgresDatabase
from psad.model import Asset, Entity
from psad.store import utcnow
from psad.store.factory import open_store

PASSES = ("insert", "unchanged", "update")


async def throughput(database: Path | PostgresDatabase, rows: int,
                     page: int) -> dict[str, float]:
    """Rows per second of each pass through ``apply_page``."""
    new = _assets(rows)
    changed = [dataclasses.replace(a, notes=f"moved {a.psa_id}") for a in new]
    store = await open_store(database)
    integration = f"bench-{uuid.uuid4().hex[:8]}"
    out: dict[str, float] = {}
    try:
        for name, records in zip(PASSES, (new, new, changed)):
            run_id = await store.create_run(integration, "manual", "bench", full=True,
                                            queued_at=utcnow())
            begun = time.perf_counter()
            for start in range(0, rows, page):
                batch: list[Asset] = records[start:start + page]
                await store.apply_page(integration, Entity.ASSET, batch, now=utcnow(),
                                       run_id=run_id)
            out[name] = rows / (time.perf_counter() - begun)
            await store.forget_seen(run_id)
    finally:
        await store.close()
    return out


async def compare(url: str, rows: int, page: int) -> list[str]:
    results = {"SQLite": await throughput(workdir() / "psad.db", rows, page),
               "PostgreSQL": await throughput(PostgresDatabase(url), rows, page)}
    lines = [f"store throughput, {rows:,} assets in pages of {page} (rows/s)",
             "| backend | " + " | ".join(PASSES) + " |", "|---|" + "---:|" * len(PASSES)]
    lines += [f"| {name} | " + " | ".join(f"{r[p]:,.0f}" for p in PASSES) + " |"
              for name, r in results.items()]
    ratio = {p: results["PostgreSQL"][p] / results["SQLite"][p] for p in PASSES}
    lines.append("| PostgreSQL / SQLite | " + " | ".join(f"{ratio[p]:.2f}" for p in PASSES)
                 + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stores")
    parser.add_argument("url", help="a PostgreSQL database (password via PGPASSWORD)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    args = parser.parse_args()
    print("\n".join(asyncio.run(compare(args.url, args.rows, args.page))))


if __name__ == "__main__":
    main()
