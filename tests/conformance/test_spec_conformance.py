"""Simulator answers and connector requests against the vendors' own OpenAPI documents.

For each PSA, psad's connector syncs its simulator (full, then incremental) and reads live
tickets (a page, a board filter, one ticket); every answer the simulator gave is validated
against the vendored spec subset's 200 schema for that operation, and every request the
connector sent against the operation's path, method, query parameters and body. The known
spec deviations (``deviations.py``) are applied first and printed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from deviations import DEVIATIONS
from psad.model import Entity, TicketQuery
from psad.simulators import REQUEST_LOG_KEY, LoggedRequest
from psad.simulators.dataset import Dataset
from psad.simulators.faults import CONTROL_PREFIX
from psad.simulators.serve import SIMULATORS
from psad.store import Store
from sim_harness import HarnessMaker, connect_kind
from spec_check import VENDORS, Spec

KINDS = tuple(SIMULATORS)


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    query: dict[str, str]
    status: int
    body: Any

    @property
    def projected(self) -> bool:
        return any(k.lower() == "fields" for k in self.query)


@dataclass
class Traffic:
    answers: list[Answer] = field(default_factory=list)
    requests: list[LoggedRequest] = field(default_factory=list)


def record_answers(app: web.Application, traffic: Traffic) -> None:
    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        if request.path.startswith(CONTROL_PREFIX) or not isinstance(response, web.Response):
            return
        if response.content_type != "application/json" or not isinstance(response.body, bytes):
            return
        traffic.answers.append(Answer(request.method, request.path, dict(request.query),
                                      response.status, json.loads(response.body)))

    app.on_response_prepare.append(on_prepare)


async def drive(kind: str, tmp_path: Path) -> Traffic:
    """A full and an incremental sync and live ticket reads, as psad runs them."""
    spec = SIMULATORS[kind]
    dataset = Dataset.generate(5, companies=6, sites_per_company=2, assets=25, contacts=15,
                               tickets=25)
    app = spec.create(dataset)
    traffic = Traffic()
    record_answers(app, traffic)
    # the traffic is the PSA's, recorded once a session: a SQLite store is the sync's sink
    maker = HarnessMaker(lambda number: Store.open(tmp_path / f"psad-{number}.db"))
    try:
        psa = await maker(app, spec.api_path, connect_kind(
            kind, max_retries=1, page_size=10, asset_fields=("Backup",), contact_fields=("VIP",)))
        assert (await psa.sync(full=True)).outcome == "succeeded"
        dataset.touch_random(0.2, random.Random(1))
        assert (await psa.sync()).outcome == "succeeded"
        page = await psa.connector.list_tickets(TicketQuery(page=2, page_size=5))
        board = (await psa.rows(Entity.BOARD)).popitem()[0]
        await psa.connector.list_tickets(TicketQuery(board=board, page_size=5))
        await psa.connector.get_ticket(page.tickets[0].psa_id)
    finally:
        traffic.requests = list(app[REQUEST_LOG_KEY].entries)
        await maker.close()
    return traffic


_DRIVEN: dict[str, Traffic] = {}
"""One drive per PSA serves both the answer and the request checks."""


@pytest.fixture(params=KINDS)
async def traffic(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Spec, Traffic]:
    kind: str = request.param
    if kind not in _DRIVEN:
        _DRIVEN[kind] = await drive(kind, tmp_path)
    return Spec.for_kind(kind), _DRIVEN[kind]


def test_the_recorded_spec_deviations_are_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\n{len(DEVIATIONS)} recorded spec deviations:")
        for deviation in DEVIATIONS:
            print(f"  - {deviation}")
    assert all(d.vendor in VENDORS and d.evidence for d in DEVIATIONS)


async def test_every_simulator_answer_on_a_used_path_matches_the_vendor_spec(
        traffic: tuple[Spec, Traffic], capsys: pytest.CaptureFixture[str]) -> None:
    spec, seen = traffic
    ok = [a for a in seen.answers if a.status == 200]
    covered = sorted({" ".join(found[::-1]) for a in ok
                      if (found := _template(spec, a.method, a.path)) is not None})
    with capsys.disabled():
        print(f"\n{spec.vendor.kind}: {len(ok)} answers on {len(covered)} operations: "
              + ", ".join(covered))
    assert ok
    findings = sorted({e for a in ok for e in spec.response_errors(a.method, a.path, a.body,
                                                                   projected=a.projected)})
    assert findings == [], "\n".join(findings[:60])


def _template(spec: Spec, method: str, path: str) -> tuple[str, str] | None:
    found = spec.operation(method, path)
    return None if found is None else (found[0], method)


def test_a_key_the_spec_lacks_or_a_null_it_forbids_is_a_finding() -> None:
    halo, cw = Spec.for_kind("halo"), Spec.for_kind("connectwise")
    status = {"id": 1, "name": "New", "shortname": "NEW", "type": 0, "sequence": 1,
              "colour": "#fff"}
    assert halo.response_errors("GET", "/api/Status", [status]) == []
    assert halo.response_errors("GET", "/api/Status", [{**status, "isclosed": False}]) != []
    board = {"id": 1, "name": "Help", "location": {"id": 1}, "department": {"id": 1}}
    assert cw.response_errors("GET", "/v4_6_release/apis/3.0/service/boards", [board]) == []
    assert cw.response_errors("GET", "/v4_6_release/apis/3.0/service/boards",
                              [{**board, "notifyEmailFrom": None}]) != []
    assert cw.response_errors("GET", "/v4_6_release/apis/3.0/service/boards",
                              [{"id": 1, "name": "Help"}]) != []  # location is required


def test_a_request_the_spec_lacks_is_a_finding() -> None:
    cw = Spec.for_kind("connectwise")
    api = "/v4_6_release/apis/3.0"
    assert cw.request_errors("GET", api + "/company/companies", {"pageSize": "5"}, None, "") == []
    assert cw.request_errors("GET", api + "/company/companies", {"pageSize": "five"}, None, "")
    assert cw.request_errors("GET", api + "/company/companies", {"limit": "5"}, None, "")
    assert cw.request_errors("GET", api + "/company/widgets", {}, None, "")
    assert cw.request_errors("DELETE", api + "/service/boards", {}, None, "")


async def test_every_connector_request_matches_the_vendor_spec(
        traffic: tuple[Spec, Traffic]) -> None:
    spec, seen = traffic
    assert seen.requests
    findings = sorted({e for r in seen.requests for e in spec.request_errors(
        r.method, r.path, r.query, r.body,
        next((v for k, v in r.headers.items() if k.lower() == "content-type"), "").split(";")[0])})
    assert findings == [], "\n".join(findings[:60])
