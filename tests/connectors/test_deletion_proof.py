"""The count shortcut of incremental runs, for every PSA that can count: it skips the id
listing only when counts agree, and the scheduled full sweep catches what it cannot see."""

from __future__ import annotations

import pytest

from psad.model import Entity
from psad.simulators.dataset import BASE_TIME
from test_all_psas import INCREMENTAL_KINDS, Psa, kinds, psa  # noqa: F401 (the fixture)


async def sync_as(p: Psa, trigger: str):
    run_id = await p.store.create_run("acme", trigger, "test", full=False,
                                      queued_at=p.engine.clock())
    report = await p.engine.run(run_id, p.connector)
    assert report.outcome == "succeeded", report.error
    return {r.entity: r for r in report.entities}


COUNTED_KINDS = tuple(k for k in INCREMENTAL_KINDS if k in ("connectwise", "autotask", "halo"))
"""The PSAs whose incremental runs prove by count that nothing was deleted (Kaseya BMS
cannot count, so it lists ids on every run)."""


@pytest.mark.parametrize("psa", kinds(INCREMENTAL_KINDS), indirect=True)
async def test_a_deletion_alone_is_never_hidden_by_the_count(psa: Psa) -> None:
    await sync_as(psa, "manual")
    gone = psa.ds.ids("assets")[4]
    psa.ds.delete("assets", gone)
    results = await sync_as(psa, "manual")
    assert results[Entity.ASSET].deleted == 1
    assert str(gone) not in await psa.rows(Entity.ASSET)


@pytest.mark.parametrize("psa", kinds(COUNTED_KINDS), indirect=True)
async def test_a_delete_and_an_unseen_add_wait_for_the_nightly_full_sweep(psa: Psa) -> None:
    await sync_as(psa, "manual")
    ds = psa.ds
    gone = ds.ids("assets")[4]
    template = ds.get("assets", ds.ids("assets")[5])
    ds.delete("assets", gone)
    ds.add("assets", company_id=template.company_id, name="HIDDEN-PC", updated_at=BASE_TIME)
    assert (await sync_as(psa, "manual"))[Entity.ASSET].deleted == 0  # counts agree
    assert (await sync_as(psa, "nightly"))[Entity.ASSET].deleted == 1
    assert str(gone) not in await psa.rows(Entity.ASSET)
