"""Sync guarantees that a plausible slip in the engine would break, each pinned by a test.

Each test here fails when its guarantee is removed: the cursor taken at the
start of an entity's fetch (not its end), the cursor overlap, the mass-delete
floor, and an auth or availability failure ending the run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from psad.config import SyncConfig
from psad.engine import SyncEngine
from psad.model import Entity
from psad.store import MASS_DELETE_FLOOR, utcnow
from test_sync_connectwise import CONFIGURATIONS, Harness, harness  # noqa: F401 (fixture)

CONTACTS = "/v4_6_release/apis/3.0/company/contacts"
BOARDS = "/v4_6_release/apis/3.0/service/boards"


async def test_a_record_changed_while_its_entity_is_fetched_is_fetched_again_next_run(
        harness: Harness) -> None:
    ds = harness.ds
    real_fetch = harness.connector.fetch
    changed: list[int] = []
    later = timedelta(0)  # the fetch goes on for a while after the change
    harness.engine = SyncEngine(harness.store, SyncConfig(cursor_overlap_seconds=0),
                                clock=lambda: utcnow() + later)

    async def change_after_first_asset_page(entity: Entity, *,
                                            since: Any = None) -> AsyncIterator[Any]:
        async for page in real_fetch(entity, since=since):
            yield page
            if entity is Entity.ASSET and not changed:
                first = int(page.records[0].psa_id)  # read already, in this run's old form
                ds.update("assets", first, notes="changed during the fetch")
                changed.append(first)
                nonlocal later
                later = timedelta(minutes=5)

    harness.connector.fetch = change_after_first_asset_page  # type: ignore[method-assign]
    await harness.sync()
    assert (await harness.rows(Entity.ASSET))[str(changed[0])]["notes"] != \
        "changed during the fetch"
    harness.connector.fetch = real_fetch  # type: ignore[method-assign]
    report = await harness.sync()
    assets = next(r for r in report.entities if r.entity is Entity.ASSET)
    assert assets.mode == "incremental"
    assert (await harness.rows(Entity.ASSET))[str(changed[0])]["notes"] == \
        "changed during the fetch"


async def test_a_change_stamped_inside_the_overlap_before_the_cursor_is_still_fetched(
        harness: Harness) -> None:
    harness.engine = SyncEngine(harness.store, SyncConfig(cursor_overlap_seconds=120))
    await harness.sync()
    cursor = (await harness.store.entity_state("acme", Entity.ASSET)).cursor
    assert cursor is not None
    late = harness.ds.ids("assets")[5]
    # committed upstream after psad's fetch, but stamped a minute before it began
    harness.ds.update("assets", late, notes="late commit", updated_at=cursor - timedelta(seconds=60))
    report = await harness.sync()
    assert next(r for r in report.entities if r.entity is Entity.ASSET).mode == "incremental"
    assert (await harness.rows(Entity.ASSET))[str(late)]["notes"] == "late commit"


async def test_below_the_mass_delete_floor_most_of_an_entity_may_go(harness: Harness) -> None:
    await harness.sync()
    boards = list(harness.ds.ids("boards"))
    assert 1 < len(boards) < MASS_DELETE_FLOOR
    for board in boards[1:]:
        harness.ds.delete("boards", board)
    report = await harness.sync()
    result = next(r for r in report.entities if r.entity is Entity.BOARD)
    assert (result.deleted, result.note) == (len(boards) - 1, None)
    assert list(await harness.rows(Entity.BOARD)) == [str(boards[0])]


@pytest.mark.parametrize("status", [401, 503])
async def test_an_auth_or_availability_failure_stops_the_run(harness: Harness,
                                                             status: int) -> None:
    harness.engine = SyncEngine(harness.store, SyncConfig(cursor_overlap_seconds=0,
                                                          entity_concurrency=1))
    harness.sim.faults.status(CONFIGURATIONS, status, count=None)
    report = await harness.sync()
    assert report.outcome == "failed" and "assets" in (report.error or "")
    done = [r.entity for r in report.entities]
    assert done == [Entity.COMPANY_STATUS, Entity.COMPANY, Entity.SITE]  # none after assets
    assert not [r for r in harness.requests() if r.path.startswith((CONTACTS, BOARDS))]
