"""Dataset records rendered as ConnectWise REST 3.0 JSON."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Final, NamedTuple

from psad.simulators import name_ids, stable_id
from psad.simulators.connectwise.config import ACTOR, Wire
from psad.simulators.dataset import (
    ASSET_STATUSES,
    BASE_TIME,
    ASSET_TYPES,
    CONTACT_TYPES,
    MANUFACTURERS,
    Asset,
    Board,
    Company,
    CompanyStatus,
    CompanyType,
    Contact,
    CustomFieldDef,
    CustomValue,
    Dataset,
    Priority,
    Site,
    Ticket,
    TicketStatus,
)


def ts(value: datetime) -> str:
    """``2025-01-31T02:00:00Z``: ConnectWise's UTC format, whole seconds."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat()[:19] + "Z"


def day(value: date) -> str:
    return value.isoformat() + "T00:00:00Z"


ASSET_TYPE_IDS: Final = name_ids(ASSET_TYPES)
ASSET_STATUS_IDS: Final = name_ids(ASSET_STATUSES)
MANUFACTURER_IDS: Final = name_ids(MANUFACTURERS)
CONTACT_TYPE_IDS: Final = name_ids(CONTACT_TYPES)
COUNTRY_IDS: Final = name_ids(("United States", "Canada", "United Kingdom", "Australia"))
PRIORITY_COLORS: Final = ("Red", "Orange", "Green", "Blue")
LOCATION: Final[Wire] = {"id": 1, "name": "Main"}
"""The one system location; the Board schema requires ``location`` and ``department``."""
DEPARTMENT: Final[Wire] = {"id": 1, "identifier": "Services", "name": "Services"}


_NAMED_CACHE: Final[dict[tuple[int, str], Wire]] = {}


def omit_absent(wire: Wire) -> Wire:
    """``wire`` without its absent (None) values, nested objects included: ConnectWise leaves
    such keys out rather than sending ``null`` (the spec types most of them non-nullable;
    recorded tenant responses omit them, down to an unset custom field's ``value``)."""
    out: Wire = {}
    for key, value in wire.items():
        if value is None:
            continue
        if value.__class__ is dict and None in value.values():
            value = omit_absent(value)  # copied only when there is something to leave out
        elif value.__class__ is list and value and value[0].__class__ is dict:
            value = [omit_absent(v) if None in v.values() else v for v in value]
        out[key] = value
    return out


def _named(ids: Mapping[str, int], name: str | None) -> Wire | None:
    """A shared ``{id, name}`` reference (rendering reuses it; overrides copy first)."""
    if name is None:
        return None
    key = (id(ids), name)
    ref = _NAMED_CACHE.get(key)
    if ref is None:
        ref = _NAMED_CACHE[key] = {"id": ids.get(name) or stable_id(name), "name": name}
    return ref


def _info(updated: datetime, created: datetime | None = None) -> Wire:
    info: Wire = {"lastUpdated": ts(updated), "updatedBy": ACTOR}
    if created is not None:
        info["dateEntered"] = ts(created)
        info["enteredBy"] = ACTOR
    return info


def _company_ref(ds: Dataset, company_id: int | None, base: str) -> Wire | None:
    company = ds.companies.get(company_id) if company_id is not None else None
    if company is None:
        return None if company_id is None else {"id": company_id}
    return {"id": company.id, "identifier": company.identifier, "name": company.name,
            "_info": {"company_href": f"{base}/company/companies/{company.id}"}}


def _country(name: str | None) -> Wire | None:
    return _named(COUNTRY_IDS, name)


@functools.cache
def _custom_field_shell(d: CustomFieldDef) -> Wire:
    return {"id": d.id, "caption": d.caption, "type": d.type,
            "entryMethod": "Date" if d.type == "Date" else "EntryField", "numberOfDecimals": 0}


def _custom_fields(defs: Sequence[CustomFieldDef], values: Mapping[str, CustomValue]) -> list[Wire]:
    out = []
    for d in defs:
        value = values.get(d.caption)
        out.append({**_custom_field_shell(d), "value": day(value) if isinstance(value, date) else value})
    return out


def render_company_status(ds: Dataset, s: CompanyStatus, base: str = "") -> Wire:
    return {"id": s.id, "name": s.name, "defaultFlag": s.is_default, "inactiveFlag": s.inactive,
            "notifyFlag": False, "disallowSavingFlag": False, "notificationMessage": None,
            "customNoteFlag": False, "cancelOpenTracksFlag": False, "_info": _info(s.updated_at)}


def render_company_type(ds: Dataset, t: CompanyType, base: str = "") -> Wire:
    return {"id": t.id, "name": t.name, "defaultFlag": t.id == 1, "vendorFlag": t.name == "Vendor",
            "_info": _info(t.updated_at)}


def render_company(ds: Dataset, c: Company, base: str = "") -> Wire:
    status = ds.company_statuses.get(c.status_id) if c.status_id is not None else None
    primary = next((ds.sites[i] for i in ds.children("sites", c.id) if ds.sites[i].primary), None)
    return {
        "id": c.id,
        "identifier": c.identifier,
        "name": c.name,
        "status": None if status is None else {
            "id": status.id, "name": status.name,
            "_info": {"status_href": f"{base}/company/companies/statuses/{status.id}"}},
        "types": [{"id": t.id, "name": t.name,
                   "_info": {"type_href": f"{base}/company/companies/types/{t.id}"}}
                  for t in (ds.company_types.get(i) for i in c.type_ids) if t is not None],
        "addressLine1": c.line1,
        "addressLine2": c.line2,
        "city": c.city,
        "state": c.region_code,
        "zip": c.postal_code,
        "country": _country(c.country),
        "phoneNumber": c.phone,
        "website": c.website,
        "site": None if primary is None else {
            "id": primary.id, "name": primary.name,
            "_info": {"site_href": f"{base}/company/companies/{c.id}/sites/{primary.id}"}},
        "deletedFlag": False,
        "customFields": [],
        "_info": _info(c.updated_at, c.created_at),
    }


def render_site(ds: Dataset, s: Site, base: str = "") -> Wire:
    return {
        "id": s.id,
        "name": s.name,
        "addressLine1": s.line1,
        "addressLine2": s.line2,
        "city": s.city,
        "stateReference": None if s.region_code is None else {
            "id": stable_id(s.region_code), "identifier": s.region_code, "name": s.region},
        "zip": s.postal_code,
        "country": None if s.country is None else {
            "id": COUNTRY_IDS.get(s.country) or stable_id(s.country),
            "identifier": s.country, "name": s.country},
        "phoneNumber": s.phone,
        "inactiveFlag": not s.active,
        "primaryAddressFlag": s.primary,
        "defaultBillingFlag": s.primary,
        "defaultShippingFlag": s.primary,
        "defaultMailingFlag": s.primary,
        "company": _company_ref(ds, s.company_id, base),
        "_info": _info(s.updated_at, s.created_at),
    }


def render_configuration(ds: Dataset, a: Asset, base: str = "") -> Wire:
    return {
        "id": a.id,
        "name": a.name,
        "type": _named(ASSET_TYPE_IDS, a.type),
        "status": _named(ASSET_STATUS_IDS, a.status),
        "company": _company_ref(ds, a.company_id, base),
        "serialNumber": a.serial_number,
        "modelNumber": None,
        "tagNumber": None,
        "purchaseDate": None if a.purchase_date is None else day(a.purchase_date),
        "warrantyExpirationDate": None if a.warranty_expiration is None else day(a.warranty_expiration),
        "osType": a.os_type,
        "manufacturer": _named(MANUFACTURER_IDS, a.manufacturer),
        "notes": a.notes,
        "activeFlag": a.status not in ("Inactive", "Retired"),
        "customFields": _custom_fields(ds.asset_fields, a.custom_fields),
        "_info": _info(a.updated_at, a.created_at),
    }


def _communication_items(c: Contact) -> list[Wire]:
    items: list[Wire] = []
    if c.email:
        items.append({"id": c.id * 2, "type": {"id": 1, "name": "Email"}, "value": c.email,
                      "defaultFlag": True, "domain": "@" + c.email.partition("@")[2],
                      "communicationType": "Email"})
    if c.phone:
        items.append({"id": c.id * 2 + 1, "type": {"id": 2, "name": "Direct"}, "value": c.phone,
                      "extension": None, "defaultFlag": True, "communicationType": "Phone"})
    return items


def render_contact(ds: Dataset, c: Contact, base: str = "") -> Wire:
    kind = _named(CONTACT_TYPE_IDS, c.type)
    return {
        "id": c.id,
        "firstName": c.first_name,
        "lastName": c.last_name,
        "company": _company_ref(ds, c.company_id, base),
        "title": c.title,
        "types": [] if kind is None else [kind],
        "inactiveFlag": not c.active,
        "addressLine1": c.line1,
        "addressLine2": c.line2,
        "city": c.city,
        "state": c.region,
        "zip": c.postal_code,
        "country": _country(c.country),
        "defaultPhoneType": "Direct" if c.phone else None,
        "defaultPhoneNbr": c.phone,
        "communicationItems": _communication_items(c),
        "customFields": _custom_fields(ds.contact_fields, c.custom_fields),
        "_info": _info(c.updated_at, c.created_at),
    }


def render_board(ds: Dataset, b: Board, base: str = "") -> Wire:
    return {"id": b.id, "name": b.name, "location": LOCATION, "department": DEPARTMENT,
            "inactiveFlag": not b.active, "projectFlag": b.name == "Projects",
            "_info": _info(b.updated_at)}


def render_board_status(ds: Dataset, s: TicketStatus, base: str = "") -> Wire:
    board = ds.boards.get(s.board_id)
    first = ds.children("ticket_statuses", s.board_id)
    return {
        "id": s.id,
        "name": s.name,
        "board": {"id": s.board_id, "name": board.name if board else None,
                  "_info": {"board_href": f"{base}/service/boards/{s.board_id}"}},
        "sortOrder": s.sort_order,
        "displayOnBoard": not s.closed,
        "inactive": False,
        "closedStatus": s.closed,
        "timeEntryNotAllowed": s.closed,
        "defaultFlag": bool(first) and first[0] == s.id,
        "_info": _info(s.updated_at),
    }


def render_priority(ds: Dataset, p: Priority, base: str = "") -> Wire:
    color = PRIORITY_COLORS[(p.sort_order - 1) % len(PRIORITY_COLORS)]
    return {"id": p.id, "name": p.name, "color": color, "sortOrder": p.sort_order,
            "defaultFlag": p.sort_order == 3, "_info": _info(p.updated_at)}


class Lookup(NamedTuple):
    """A set-up row the dataset keeps only by name (contact types, configuration types and
    statuses): served so clients can resolve the names they find on records."""

    id: int
    name: str
    updated_at: datetime


def lookups(ids: Mapping[str, int]) -> dict[int, Lookup]:
    return {i: Lookup(i, name, BASE_TIME) for name, i in ids.items()}


def render_contact_type(ds: Dataset, t: Lookup, base: str = "") -> Wire:
    return {"id": t.id, "description": t.name, "defaultFlag": t.id == 1, "serviceAlertFlag": False,
            "_info": _info(t.updated_at)}


def render_configuration_type(ds: Dataset, t: Lookup, base: str = "") -> Wire:
    return {"id": t.id, "name": t.name, "inactiveFlag": False, "systemFlag": False,
            "_info": _info(t.updated_at)}


def render_configuration_status(ds: Dataset, s: Lookup, base: str = "") -> Wire:
    return {"id": s.id, "description": s.name, "closedFlag": s.name in ("Inactive", "Retired"),
            "defaultFlag": s.id == 1, "_info": _info(s.updated_at)}


def render_ticket(ds: Dataset, t: Ticket, base: str = "") -> Wire:
    board = ds.boards.get(t.board_id) if t.board_id is not None else None
    status = ds.ticket_statuses.get(t.status_id) if t.status_id is not None else None
    priority = ds.priorities.get(t.priority_id) if t.priority_id is not None else None
    contact = ds.contacts.get(t.contact_id) if t.contact_id is not None else None
    wire: Wire = {
        "id": t.id,
        "summary": t.summary,
        "recordType": "ServiceTicket",
        "board": None if board is None else {
            "id": board.id, "name": board.name,
            "_info": {"board_href": f"{base}/service/boards/{board.id}"}},
        "status": None if status is None else {
            "id": status.id, "name": status.name,
            "_info": {"status_href": f"{base}/service/boards/{status.board_id}/statuses/{status.id}"}},
        "company": _company_ref(ds, t.company_id, base),
        "priority": None if priority is None else {
            "id": priority.id, "name": priority.name, "sort": priority.sort_order,
            "_info": {"priority_href": f"{base}/service/priorities/{priority.id}"}},
        "severity": "Medium",
        "impact": "Medium",
        "allowAllClientsPortalView": False,
        "customerUpdatedFlag": False,
        "automaticEmailContactFlag": False,
        "automaticEmailResourceFlag": False,
        "automaticEmailCcFlag": False,
        "closedFlag": t.closed,
        "closedDate": ts(t.updated_at) if t.closed else None,
        "closedBy": ACTOR if t.closed else None,
        "approved": True,
        "estimatedExpenseCost": 0.0,
        "estimatedExpenseRevenue": 0.0,
        "estimatedProductCost": 0.0,
        "estimatedProductRevenue": 0.0,
        "estimatedTimeCost": 0.0,
        "estimatedTimeRevenue": 0.0,
        "billingMethod": "ActualRates",
        "subBillingMethod": "ActualRates",
        "resolveMinutes": 0,
        "resPlanMinutes": 0,
        "respondMinutes": 0,
        "isInSla": True,
        "hasChildTicket": False,
        "hasMergedChildTicketFlag": False,
        "billTime": "NoDefault",
        "billExpenses": "NoDefault",
        "billProducts": "NoDefault",
        "location": LOCATION,
        "department": DEPARTMENT,
        "escalationLevel": 0,
        "minutesBeforeWaiting": 0,
        "respondedSkippedMinutes": 0,
        "resplanSkippedMinutes": 0,
        "customFields": [],
        "_info": _info(t.updated_at, t.created_at),
    }
    if contact is not None:
        wire["contact"] = {"id": contact.id, "name": f"{contact.first_name} {contact.last_name}",
                           "_info": {"contact_href": f"{base}/company/contacts/{contact.id}"}}
        wire["contactName"] = wire["contact"]["name"]
        wire["contactPhoneNumber"] = contact.phone
        wire["contactEmailAddress"] = contact.email
    return wire
