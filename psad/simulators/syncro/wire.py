"""Dataset records rendered as Syncro API v1 JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Final

from psad.simulators import apply_overrides
from psad.simulators.dataset import (
    ASSET_TYPES,
    Asset,
    Company,
    Contact,
    CustomValue,
    Dataset,
    Ticket,
)
from psad.simulators.syncro.config import (
    ACCOUNT_ID,
    CLOSED_STATUSES,
    MANUFACTURER_FIELD,
    PURCHASE_FIELD,
    WARRANTY_FIELD,
    WEBSITE_FIELD,
    Wire,
)


def ts(value: datetime) -> str:
    """``2019-10-21T08:33:21.053Z``, as in the vendor's examples."""
    moment = value.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def custom_text(value: CustomValue) -> str | None:
    """A custom field value as Syncro stores it: text, checkboxes as ``"1"``/``"0"``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def full_name(contact: Contact) -> str:
    return " ".join(p for p in (contact.first_name, contact.last_name) if p)


ASSET_TYPE_IDS: Final = {name: n for n, name in enumerate(dict.fromkeys(ASSET_TYPES), start=1)}


class Renderer:
    """Renders dataset records for one request; caches what several records share."""

    def __init__(self, ds: Dataset, root: str) -> None:
        self.ds = ds
        self.root = root
        self._customers: dict[int, Wire] = {}
        self._contacts_by_company: dict[int, list[int]] | None = None

    def finish(self, entity: str, record_id: int, wire: Wire) -> Wire:
        overrides = self.ds.overrides(entity, record_id)
        return apply_overrides(wire, overrides) if overrides else wire

    def disabled(self, c: Company) -> bool:
        status = self.ds.company_statuses.get(c.status_id) if c.status_id is not None else None
        return bool(status is not None and status.inactive)

    def customer_core(self, c: Company) -> Wire:
        cached = self._customers.get(c.id)
        if cached is not None:
            return cached
        properties = {} if c.website is None else {WEBSITE_FIELD: c.website}
        wire: Wire = {
            "id": c.id, "firstname": None, "lastname": None, "fullname": None,
            "business_name": c.name, "email": None, "phone": c.phone, "mobile": None,
            "created_at": ts(c.created_at), "updated_at": ts(c.updated_at), "pdf_url": None,
            "address": c.line1, "address_2": c.line2, "city": c.city, "state": c.region,
            "zip": c.postal_code, "latitude": None, "longitude": None, "notes": None,
            "get_sms": False, "opt_out": False, "disabled": self.disabled(c), "no_email": False,
            "location_name": None, "location_id": None, "properties": properties,
            "online_profile_url": f"{self.root}/my_profile/v2/index?portal_key=psad{c.id:08d}",
            "tax_rate_id": None, "notification_email": None, "invoice_cc_emails": None,
            "invoice_term_id": None, "referred_by": None, "ref_customer_id": None,
            "business_and_full_name": c.name, "business_then_name": c.name,
        }
        self._customers[c.id] = wire
        return wire

    def customer(self, c: Company) -> Wire:
        contacts = [self.contact(self.ds.contacts[i]) for i in self.contact_ids(c.id)]
        return self.finish("companies", c.id, {**self.customer_core(c), "contacts": contacts})

    def contact_ids(self, company_id: int) -> list[int]:
        if self._contacts_by_company is None:
            index: dict[int, list[int]] = {}
            for contact_id in self.ds.ids("contacts"):
                owner = self.ds.contacts[contact_id].company_id
                if owner is not None:
                    index.setdefault(owner, []).append(contact_id)
            self._contacts_by_company = index
        return self._contacts_by_company.get(company_id, [])

    def contact(self, c: Contact) -> Wire:
        properties: Wire = {} if c.title is None else {"title": c.title}
        captions = (d.caption for d in self.ds.contact_fields)
        properties.update(_custom_properties(captions, c.custom_fields))
        return self.finish("contacts", c.id, {
            "id": c.id, "name": full_name(c), "address1": c.line1, "address2": c.line2,
            "city": c.city, "state": c.region, "zip": c.postal_code, "email": c.email,
            "phone": c.phone, "mobile": None, "latitude": None, "longitude": None,
            "customer_id": c.company_id, "account_id": ACCOUNT_ID, "notes": None,
            "created_at": ts(c.created_at), "updated_at": ts(c.updated_at), "vendor_id": None,
            "properties": properties, "opt_out": False, "extension": None,
        })

    def asset(self, a: Asset) -> Wire:
        properties: Wire = {}
        if a.manufacturer is not None:
            properties[MANUFACTURER_FIELD] = a.manufacturer
        if a.purchase_date is not None:
            properties[PURCHASE_FIELD] = a.purchase_date.isoformat()
        if a.warranty_expiration is not None:
            properties[WARRANTY_FIELD] = a.warranty_expiration.isoformat()
        captions = (d.caption for d in self.ds.asset_fields)
        properties.update(_custom_properties(captions, a.custom_fields))
        if a.os_type is not None:
            properties["kabuto_information"] = {
                "os": {"name": a.os_type, "os_architecture": "64-bit"},
                "general": {"name": a.name, "form_factor": a.type},
                "last_synced_at": ts(a.updated_at)}
        company = self.ds.companies.get(a.company_id) if a.company_id is not None else None
        return self.finish("assets", a.id, {
            "id": a.id, "name": a.name, "customer_id": a.company_id, "contact_id": None,
            "created_at": ts(a.created_at), "updated_at": ts(a.updated_at),
            "properties": properties, "asset_type": a.type, "asset_serial": a.serial_number,
            "external_rmm_link": None,
            "customer": None if company is None else self.customer_core(company),
            "rmm_links": [], "rmm_store": None, "address": None,
        })

    def ticket(self, t: Ticket, *, detail: bool = False) -> Wire:
        ds = self.ds
        status = ds.ticket_statuses.get(t.status_id) if t.status_id is not None else None
        board = ds.boards.get(t.board_id) if t.board_id is not None else None
        priority = ds.priorities.get(t.priority_id) if t.priority_id is not None else None
        contact = ds.contacts.get(t.contact_id) if t.contact_id is not None else None
        company = ds.companies.get(t.company_id) if t.company_id is not None else None
        status_name = status.name if status else "New"
        wire: Wire = {
            "id": t.id, "number": ticket_number(t.id), "subject": t.summary,
            "created_at": ts(t.created_at), "customer_id": t.company_id,
            "customer_business_then_name": company.name if company else None,
            "due_date": None,
            "resolved_at": ts(t.updated_at) if status_name in CLOSED_STATUSES else None,
            "start_at": None, "end_at": None, "location_id": None, "location_name": None,
            "problem_type": board.name if board else None, "status": status_name,
            "ticket_type_id": None, "ticket_type_name": None, "properties": {},
            "user_id": None, "updated_at": ts(t.updated_at), "pdf_url": None,
            "priority": priority.name if priority else None, "billing_status": None,
            "tag_list": [], "sla_name": None, "creator_name_or_email": None,
            "contact_fullname": full_name(contact) if contact else None,
            "contract_name": None, "address_id": None, "parent": False, "parent_id": None,
            "child": False, "recurring": False, "customer_reply": False,
            "total_formatted_billable_time": None, "contact_id": t.contact_id,
            "sla_breached": False, "sla_breaching_soon": False, "contract_id": None,
            "sla_id": None, "customer_tag_list": [], "resolution_time": None,
            "response_time": None, "customer_icons": [], "comments": [], "user": None,
        }
        if detail:
            wire.update({
                "asset_ids": [], "attachments": [], "ticket_timers": [], "line_items": [],
                "worksheet_results": [], "assets": [], "appointments": [],
                "ticket_fields": [], "ticket_answers": [],
                "customer": None if company is None else self.customer_core(company),
                "contact": None if contact is None else self.contact(contact),
                "ticket_type": None, "address": None,
            })
        return self.finish("tickets", t.id, wire)


def ticket_number(ticket_id: int) -> int:
    return 1000 + ticket_id


def _custom_properties(captions: Iterable[str], values: Mapping[str, CustomValue]) -> Wire:
    out: Wire = {}
    for caption in captions:
        text = custom_text(values.get(caption))
        if text is not None:
            out[caption] = text
    return out


def status_names(ds: Dataset) -> list[str]:
    """The account's ticket statuses: one global list of names, first use first."""
    return list(dict.fromkeys(s.name for s in ds.records("ticket_statuses")))


def priority_names(ds: Dataset) -> list[str]:
    return ["", *(p.name for p in sorted(ds.records("priorities"), key=lambda p: p.sort_order))]
