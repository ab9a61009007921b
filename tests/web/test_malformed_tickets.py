"""A malformed upstream ticket is skipped and reported, never read as an empty list."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from psad.simulators.dataset import DELETE

TICKETS = "/api/integrations/demo-connectwise/tickets"


def rejected_count(metrics_text: str) -> float:
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "psad_ticket_proxy_rejected_tickets":
            return sum(s.value for s in family.samples if s.name.endswith("_total"))
    return 0.0


async def test_a_listed_ticket_without_its_id_is_skipped_and_reported(
        daemon_client: Any, auth: dict[str, str]) -> None:
    ds = daemon_client.sim.dataset
    newest = ds.records("tickets")[-1]  # first on the first page (newest first)
    ds.corrupt("tickets", newest.id, "id", DELETE)
    body = await (await daemon_client.get(f"{TICKETS}?page_size=10", headers=auth)).json()
    assert body["errors"] == [{"id": None, "message": body["errors"][0]["message"]}]
    assert "id" in body["errors"][0]["message"]
    shown = [t["id"] for t in body["tickets"]]
    assert len(shown) == 9 and str(newest.id) not in shown and body["has_more"] is True
    assert body["total"] != 0
    metrics = await (await daemon_client.get("/metrics", headers=auth)).text()
    assert rejected_count(metrics) == 1

    page = await (await daemon_client.get(
        "/integrations/demo-connectwise/tickets?page_size=10", headers=auth)).text()
    assert "1 ticket on this page could not be read" in page
    assert "a ticket without an id" in page and f"#{shown[0]}" in page


async def test_ids_the_psa_cannot_have_match_nothing_and_are_not_errors(
        daemon_client: Any, auth: dict[str, str]) -> None:
    listed = await daemon_client.get(f"{TICKETS}?company=abc", headers=auth)
    body = await listed.json()
    assert listed.status == 200 and body["tickets"] == [] and body["errors"] == []
    one = await daemon_client.get(f"{TICKETS}/abc", headers=auth)
    assert one.status == 404


async def test_one_malformed_ticket_asked_for_by_id_is_a_502_not_a_404(
        daemon_client: Any, auth: dict[str, str]) -> None:
    ticket = daemon_client.sim.dataset.records("tickets")[2]
    daemon_client.sim.dataset.corrupt("tickets", ticket.id, "id", DELETE)
    resp = await daemon_client.get(f"{TICKETS}/{ticket.id}", headers=auth)
    assert resp.status == 502 and "answered with an error" in (await resp.json())["error"]
