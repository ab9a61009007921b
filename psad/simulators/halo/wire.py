"""Dataset records rendered as HaloPSA JSON."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final

from psad.simulators import name_ids
from psad.simulators.dataset import (
    ASSET_STATUSES,
    ASSET_TYPES,
    Asset,
    Board,
    Company,
    Contact,
    CustomFieldDef,
    CustomValue,
    Dataset,
    Priority,
    Site,
    Ticket,
    TicketStatus,
)
from psad.simulators.halo.config import (
    EMPTY_DATE,
    HALO_FIELD_TYPES,
    IMPORTANT_TYPE,
    SLAS,
    TYPE_FIELDS,
    Wire,
)
from psad.simulators.halo.query import Query


def ts(value: datetime) -> str:
    """Halo's timestamps: UTC, no zone suffix, whole seconds."""
    return value.astimezone(UTC).isoformat()[:19]


def day(value: date | None) -> str:
    return EMPTY_DATE if value is None else value.isoformat() + "T00:00:00"


ASSET_TYPE_IDS: Final = name_ids(ASSET_TYPES)
ASSET_STATUS_IDS: Final = name_ids(ASSET_STATUSES)
INACTIVE_ASSET_STATUSES: Final = frozenset({"Inactive", "Retired"})


def _custom_fields(defs: Sequence[CustomFieldDef], values: Mapping[str, CustomValue]) -> list[Wire]:
    out = []
    for d in defs:
        value = values.get(d.caption)
        if isinstance(value, date):
            shown: Any = day(value)
        elif value is None:
            shown = ""
        else:
            shown = value
        display = ("Yes" if value else "No") if isinstance(value, bool) else str(shown)
        out.append({"id": 100 + d.id, "name": "CF" + "".join(d.caption.split()),
                    "label": d.caption, "type": HALO_FIELD_TYPES.get(d.type, 0),
                    "value": shown, "display": display})
    return out


def _address(line1: str | None, line2: str | None, city: str | None, region: str | None,
             postcode: str | None) -> Wire:
    return {"line1": line1 or "", "line2": line2 or "", "line3": city or "",
            "line4": region or "", "postcode": postcode or ""}


def person_name(c: Contact | None) -> str:
    if c is None:
        return ""
    return " ".join(p for p in (c.first_name, c.last_name) if p)


class Renderer:
    """Turns dataset records into Halo JSON; one per request, caching what it looks up."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self._main: dict[int, Site | None] = {}
        self._canonical: dict[str, TicketStatus] | None = None

    def main_site(self, company_id: int | None) -> Site | None:
        if company_id is None:
            return None
        if company_id not in self._main:
            sites = [self.ds.sites[i] for i in self.ds.children("sites", company_id)]
            self._main[company_id] = next((s for s in sites if s.primary),
                                          sites[0] if sites else None)
        return self._main[company_id]

    def primary_site_id(self, company_id: int) -> int:
        site = self.main_site(company_id)
        return site.id if site is not None and site.primary else 0

    def company_name(self, company_id: int | None) -> str:
        company = self.ds.companies.get(company_id) if company_id is not None else None
        return company.name if company else ""

    def client(self, c: Company, q: Query) -> Wire:
        status = self.ds.company_statuses.get(c.status_id) if c.status_id is not None else None
        top = next((t for t in (self.ds.company_types.get(i) for i in c.type_ids) if t), None)
        main_id = self.primary_site_id(c.id)
        main = self.ds.sites.get(main_id)
        return {
            "id": c.id, "name": c.name, "website": c.website or "",
            "inactive": bool(status and status.inactive), "colour": "",
            "toplevel_id": top.id if top else 0, "toplevel_name": top.name if top else "",
            "main_site_id": main_id, "main_site_name": main.name if main else "",
            "customertype": 0, "notes": "", "alastupdate": ts(c.updated_at), "customfields": [],
        }

    def site(self, s: Site, q: Query, *, detail: bool = False) -> Wire:
        client = self.company_name(s.company_id)
        wire: Wire = {
            "id": s.id, "name": s.name, "client_id": float(s.company_id), "client_name": client,
            "clientsite_name": f"{client}/{s.name}", "inactive": not s.active,
            "phonenumber": s.phone or "", "timezone": "", "sla_id": 1, "maincontact_id": 0,
            "slastupdate": ts(s.updated_at),
        }
        lines = (s.line1, s.line2, s.city, s.region, s.postal_code)
        if detail:
            wire["delivery_address"] = _address(*lines)
            wire["invoice_address"] = _address(*lines)
        elif q.flag("includeaddress"):
            for n, value in enumerate(lines, start=1):
                wire[f"delivery_address_line{n}"] = value or ""
        return wire

    def user(self, c: Contact, q: Query) -> Wire:
        site = self.main_site(c.company_id)
        return {
            "id": c.id, "name": person_name(c), "firstname": c.first_name or "",
            "surname": c.last_name or "", "title": c.title or "",
            "emailaddress": c.email or "", "phonenumber": c.phone or "", "mobilenumber": "",
            "client_id": c.company_id or 0, "client_name": self.company_name(c.company_id),
            "site_id": float(site.id) if site else 0.0, "site_name": site.name if site else "",
            "inactive": not c.active, "isimportantcontact": c.type == IMPORTANT_TYPE,
            "ismaincontact": False,
            "primary_address": _address(c.line1, c.line2, c.city, c.region, c.postal_code),
            "ulastupdate": ts(c.updated_at),
            "customfields": _custom_fields(self.ds.contact_fields, c.custom_fields),
        }

    def asset(self, a: Asset, q: Query) -> Wire:
        site = self.main_site(a.company_id)
        wire: Wire = {
            "id": a.id, "inventory_number": a.name, "key_field": a.name,
            "key_field2": a.serial_number or "", "key_field3": "",
            "client_id": a.company_id or 0, "client_name": self.company_name(a.company_id),
            "site_id": site.id if site else 0, "site_name": site.name if site else "",
            "assettype_id": ASSET_TYPE_IDS.get(a.type or "", 0), "assettype_name": a.type or "",
            "status_id": ASSET_STATUS_IDS.get(a.status or "", 0), "status_name": a.status or "",
            "inactive": a.status in INACTIVE_ASSET_STATUSES,
            "warranty_end": day(a.warranty_expiration), "notes": a.notes or "",
            "dlastupdate": ts(a.updated_at),
            "customfields": _custom_fields(self.ds.asset_fields, a.custom_fields),
        }
        if q.flag("includeassetfields"):
            values = (a.serial_number or "", a.manufacturer or "", a.os_type or "",
                      "" if a.purchase_date is None else day(a.purchase_date))
            wire["fields"] = [{"id": fid, "name": name, "value": value, "display": value}
                              for (fid, name), value in zip(TYPE_FIELDS, values)]
        return wire

    def canonical_statuses(self) -> dict[str, TicketStatus]:
        """Halo statuses are global: the lowest-id dataset status of each name."""
        if self._canonical is None:
            self._canonical = {}
            for status in self.ds.records("ticket_statuses"):
                self._canonical.setdefault(status.name, status)
        return self._canonical

    def ticket(self, t: Ticket, q: Query, *, detail: bool = False) -> Wire:
        board = self.ds.boards.get(t.board_id) if t.board_id is not None else None
        status = self.ds.ticket_statuses.get(t.status_id) if t.status_id is not None else None
        canonical = self.canonical_statuses().get(status.name) if status else None
        contact = self.ds.contacts.get(t.contact_id) if t.contact_id is not None else None
        site = self.main_site(t.company_id)
        wire: Wire = {
            "id": t.id, "summary": t.summary, "details": "",
            "client_id": t.company_id or 0, "client_name": self.company_name(t.company_id),
            "site_id": site.id if site else 0, "site_name": site.name if site else "",
            "user_id": t.contact_id or 0, "user_name": person_name(contact),
            "status_id": canonical.id if canonical else 0, "priority_id": t.priority_id or 0,
            "team": board.name if board else "", "tickettype_id": 1, "agent_id": 0,
            "sla_id": 1, "dateoccurred": ts(t.created_at), "lastactiondate": ts(t.updated_at),
            "last_update": ts(t.updated_at),
            "dateclosed": ts(t.updated_at) if t.closed else EMPTY_DATE, "inactive": False,
        }
        if detail or q.flag("includestatus"):
            wire["status_name"] = canonical.name if canonical else ""
        return wire

    def team(self, b: Board) -> Wire:
        return {"id": b.id, "name": b.name, "inactive": not b.active, "sequence": b.id,
                "department_id": 1, "department_name": "Service Desk", "forrequests": True}

    def status(self, s: TicketStatus) -> Wire:
        return {"id": s.id, "name": s.name, "shortname": s.name.lstrip(">")[:4].upper(),
                "type": 0, "sequence": s.sort_order, "colour": "#2f80ed" if not s.closed
                else "#828282"}

    def priorities(self, p: Priority) -> list[Wire]:
        return [{"id": uuid.uuid5(uuid.NAMESPACE_OID, f"halo-policy-{sla}-{p.id}").hex,
                 "priorityid": p.id, "slaid": sla, "name": p.name,
                 "colour": "#d0021b" if p.sort_order == 1 else "#f5a623", "ishidden": False,
                 "responsetime": 2.0 * p.sort_order, "fixtime": 8.0 * p.sort_order}
                for sla in SLAS]
