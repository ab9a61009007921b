"""The SQLite store's one writer connection: the run log goes ahead of page writes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from psad.model import Asset, Entity
from psad.store import Store, WriteTurn, utcnow


def assets(page: int, size: int = 200) -> list[Asset]:
    return [Asset(psa_id=str(page * size + i), company_psa_id="1", name=f"PC-{i}")
            for i in range(size)]


async def until_waiting(store: Store, count: int) -> None:
    while store._write_turns.waiting < count:
        await asyncio.sleep(0.001)


async def test_a_force_syncs_run_is_written_before_the_pages_already_waiting(
        tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "psad.db")
    written: list[str] = []

    async def page(number: int) -> None:
        await store.apply_page("acme", Entity.ASSET, assets(number), now=utcnow())
        written.append(f"page {number}")

    async def force_sync() -> None:
        run_id = await store.create_run("acme", "force", "alice", full=False,
                                        queued_at=utcnow())
        await store.update_run(run_id, outcome="running", started_at=utcnow())
        written.append("run started")

    try:
        await store._write_turns.acquire(WriteTurn.DATA)  # the writer busy with a page
        pages = [asyncio.create_task(page(n)) for n in range(6)]
        await until_waiting(store, 6)
        forced = asyncio.create_task(force_sync())
        await until_waiting(store, 7)
        store._write_turns.release()
        await asyncio.gather(*pages, forced)
        # the new run went ahead of all six pages; its start waited for one page at most
        assert written.index("run started") <= 1, written
        assert sorted(w for w in written if w != "run started") == [f"page {n}" for n in range(6)]
        assert (await store.count_records("acme"))["assets"].live == 1200
    finally:
        await store.close()
