"""The paged lists the simulator serves and the filters each one takes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from psad.simulators.dataset import Company, Ticket
from psad.simulators.halo.config import MAX_PAGE_SIZE, MAX_TICKET_PAGE_SIZE, Wire
from psad.simulators.halo.query import Query
from psad.simulators.halo.wire import ASSET_TYPE_IDS, INACTIVE_ASSET_STATUSES, Renderer, person_name
from psad.simulators.id_plan import Predicate


@dataclass(frozen=True, slots=True)
class Collection:
    """A paged Halo list over one dataset entity."""

    entity: str
    key: str
    label: str
    render: Callable[[Renderer, Any, Query], Wire]
    filters: Callable[[Renderer, Query], list[Predicate]]
    max_page_size: int = MAX_PAGE_SIZE


def _state_filter(q: Query, inactive: Callable[[Any], bool]) -> list[Predicate]:
    active_ok, inactive_ok = q.flag("includeactive", True), q.flag("includeinactive", False)
    if active_ok and inactive_ok:
        return []
    return [lambda r: inactive_ok if inactive(r) else active_ok]


def _common_filters(q: Query, *, company: str = "company_id") -> list[Predicate]:
    preds: list[Predicate] = []
    since = q.since()
    if since is not None:
        preds.append(lambda r: r.updated_at >= since)
    client_id = q.number("client_id")
    if client_id:
        preds.append(lambda r: getattr(r, company) == client_id)
    return preds


def _search(q: Query, text_of: Callable[[Any], str]) -> list[Predicate]:
    needle = q.text("search")
    if needle is None:
        return []
    folded = needle.casefold()
    return [lambda r: folded in text_of(r).casefold()]


def _client_filters(r: Renderer, q: Query) -> list[Predicate]:
    statuses = r.ds.company_statuses

    def inactive(c: Company) -> bool:
        status = statuses.get(c.status_id) if c.status_id is not None else None
        return bool(status and status.inactive)

    since = q.since()
    preds = [] if since is None else [lambda c: c.updated_at >= since]
    return preds + _state_filter(q, inactive) + _search(q, lambda c: c.name)


def _site_filters(r: Renderer, q: Query) -> list[Predicate]:
    return (_common_filters(q) + _state_filter(q, lambda s: not s.active)
            + _search(q, lambda s: s.name))


def _user_filters(r: Renderer, q: Query) -> list[Predicate]:
    preds = _common_filters(q) + _state_filter(q, lambda c: not c.active)
    site_id = q.number("site_id")
    if site_id:
        preds.append(lambda c: (s := r.main_site(c.company_id)) is not None and s.id == site_id)
    return preds + _search(q, lambda c: f"{person_name(c)} {c.email or ''}")


def _asset_filters(r: Renderer, q: Query) -> list[Predicate]:
    preds = _common_filters(q) + _state_filter(q, lambda a: a.status in INACTIVE_ASSET_STATUSES)
    type_id = q.number("assettype_id")
    if type_id:
        preds.append(lambda a: ASSET_TYPE_IDS.get(a.type or "") == type_id)
    return preds + _search(q, lambda a: a.name)


def _ticket_filters(r: Renderer, q: Query) -> list[Predicate]:
    preds = _common_filters(q)
    canonical = {s.name: s.id for s in r.canonical_statuses().values()}

    def status_of(t: Ticket) -> int:
        status = r.ds.ticket_statuses.get(t.status_id) if t.status_id is not None else None
        return canonical.get(status.name, 0) if status else 0

    teams = q.ints("team")
    if teams is not None:
        preds.append(lambda t: t.board_id in teams)
    status_id = q.number("status_id")
    statuses = q.ints("status") or ({status_id} if status_id else None)
    if statuses:
        preds.append(lambda t: status_of(t) in statuses)
    priorities = q.ints("priority")
    if priorities is not None:
        preds.append(lambda t: t.priority_id in priorities)
    if q.flag("open_only"):
        preds.append(lambda t: not t.closed)
    if q.flag("closed_only"):
        preds.append(lambda t: t.closed)
    return preds + _search(q, lambda t: f"{t.id} {t.summary}")


COLLECTIONS: Final[dict[str, Collection]] = {
    "client": Collection("companies", "clients", "Client", Renderer.client, _client_filters),
    "site": Collection("sites", "sites", "Site", Renderer.site, _site_filters),
    "users": Collection("contacts", "users", "User", Renderer.user, _user_filters),
    "asset": Collection("assets", "assets", "Asset", Renderer.asset, _asset_filters),
    "tickets": Collection("tickets", "tickets", "Ticket", Renderer.ticket, _ticket_filters,
                          MAX_TICKET_PAGE_SIZE),
}
