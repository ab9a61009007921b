"""ConnectWise's wire format: conditions, bundle requests, its JSON mapped to psad records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from psad.connectors import wire
from psad.connectors.wire import BadRecord
from psad.model import (
    Address,
    Asset,
    Board,
    Company,
    CompanyStatus,
    Contact,
    CustomValue,
    Entity,
    Priority,
    Site,
    TicketStatus,
)
from psad.progress import note_custom_fields

MAX_PAGE_SIZE = 1000
SITE_BATCH = 500
BUNDLE_SIZE = 100
"""Reads per ``POST /system/bundles``. ConnectWise publishes no limit; a server that
refuses this many is read one call per parent instead."""
BUNDLE_VERSION = "2025.1"

_PATHS: dict[Entity, str] = {
    Entity.COMPANY_STATUS: "company/companies/statuses",
    Entity.COMPANY: "company/companies",
    Entity.ASSET: "company/configurations",
    Entity.CONTACT: "company/contacts",
    Entity.BOARD: "service/boards",
    Entity.PRIORITY: "service/priorities",
}


def cw_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _chunks(items: Sequence[int], size: int) -> list[Sequence[int]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _sub_request(resource_type: str, parent: int, conditions: str,
                 page_size: int) -> dict[str, Any]:
    """One read in a bundle: ``GET {parent's collection}?conditions=…``, first page. The
    names are the vendor's ``BundleRequest``/``ApiRequest`` model's, camelCase like every
    other ConnectWise JSON body."""
    return {"sequenceNumber": parent, "resourceType": resource_type, "version": BUNDLE_VERSION,
            "apiRequest": {"parentId": parent,
                           "filters": {"conditions": conditions},
                           "page": {"page": 1, "pageSize": page_size}}}


def _error_text(result: Mapping[str, Any]) -> str:
    error = result.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return str(message or "no message")


def _custom(d: Mapping[str, Any], selected: Sequence[str]) -> dict[str, CustomValue]:
    raw = d.get("customFields") or []
    if not isinstance(raw, list):
        raise BadRecord("customFields: expected a list")
    pairs = [(f["caption"], custom_field_value(f.get("type"), f.get("value"))) for f in raw
             if isinstance(f, dict) and isinstance(f.get("caption"), str)]
    return picked_custom(pairs, selected)


def picked_custom(pairs: list[tuple[str, Any]], selected: Sequence[str]
                  ) -> dict[str, CustomValue]:
    """The selected fields of a record's (caption, value) pairs; the captions with a
    value are noted for the set-up page."""
    note_custom_fields(name for name, value in pairs if value not in (None, ""))
    return wire.pick_custom(pairs, selected)


def custom_field_value(kind: Any, value: Any) -> Any:
    """Date fields arrive as midnight timestamps; keep the calendar date."""
    if kind == "Date" and isinstance(value, str) and value:
        parsed = wire.date_value(value, "value")
        return parsed.isoformat() if parsed else None
    return value


def _company_status(d: Mapping[str, Any]) -> CompanyStatus:
    return CompanyStatus(psa_id=wire.psa_id(d), name=wire.text(d, "name"),
                         is_default=wire.flag(d, "defaultFlag"))


def _company(d: Mapping[str, Any]) -> Company:
    types = d.get("types") or []
    if not isinstance(types, list):
        raise BadRecord("types: expected a list")
    return Company(
        psa_id=wire.psa_id(d),
        name=wire.text(d, "name"),
        website=wire.opt_text(d, "website"),
        status=wire.ref_text(d, "status"),
        types=tuple(n for t in types if (n := wire.opt_text(wire.obj(t, "types[]"), "name"))),
    )


def _site(d: Mapping[str, Any], company_id: str) -> Site:
    state = wire.ref(d, "stateReference")
    return Site(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.ref_id(d, "company") or company_id,
        name=wire.text(d, "name"),
        active=not wire.flag(d, "inactiveFlag"),
        primary=wire.flag(d, "primaryAddressFlag"),
        address=Address(
            line1=wire.opt_text(d, "addressLine1"),
            line2=wire.opt_text(d, "addressLine2"),
            city=wire.opt_text(d, "city"),
            region=(wire.opt_text(state, "name") or wire.opt_text(state, "identifier"))
            if state else None,
            postal_code=wire.opt_text(d, "zip"),
            country=wire.ref_text(d, "country"),
        ),
    )


def _asset(d: Mapping[str, Any], selected: Sequence[str]) -> Asset:
    return Asset(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.ref_id(d, "company"),
        name=wire.text(d, "name"),
        status=wire.ref_text(d, "status"),
        type=wire.ref_text(d, "type"),
        purchase_date=wire.opt_date(d, "purchaseDate"),
        warranty_expiration=wire.opt_date(d, "warrantyExpirationDate"),
        serial_number=wire.opt_text(d, "serialNumber"),
        os_type=wire.opt_text(d, "osType"),
        notes=wire.opt_text(d, "notes"),
        manufacturer=wire.ref_text(d, "manufacturer"),
        custom_fields=_custom(d, selected),
    )


def _communication(d: Mapping[str, Any], kind: str) -> str | None:
    items = d.get("communicationItems") or []
    if not isinstance(items, list):
        raise BadRecord("communicationItems: expected a list")
    matches = [i for i in items if isinstance(i, dict) and i.get("communicationType") == kind]
    matches.sort(key=lambda i: not i.get("defaultFlag"))
    return wire.opt_text(matches[0], "value") if matches else None


def _contact(d: Mapping[str, Any], selected: Sequence[str]) -> Contact:
    types = d.get("types") or []
    if not isinstance(types, list):
        raise BadRecord("types: expected a list")
    type_names = [n for t in types if (n := wire.opt_text(wire.obj(t, "types[]"), "name"))]
    first, last = wire.opt_text(d, "firstName"), wire.opt_text(d, "lastName")
    if first is None and last is None:
        raise BadRecord("firstName/lastName: a contact needs a name")
    return Contact(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.ref_id(d, "company"),
        first_name=first,
        last_name=last,
        type=", ".join(type_names) or None,
        title=wire.opt_text(d, "title"),
        email=_communication(d, "Email"),
        phone=wire.opt_text(d, "defaultPhoneNbr") or _communication(d, "Phone"),
        address=Address(
            line1=wire.opt_text(d, "addressLine1"),
            line2=wire.opt_text(d, "addressLine2"),
            city=wire.opt_text(d, "city"),
            region=wire.opt_text(d, "state"),
            postal_code=wire.opt_text(d, "zip"),
            country=wire.ref_text(d, "country"),
        ),
        active=not wire.flag(d, "inactiveFlag"),
        custom_fields=_custom(d, selected),
    )


def _board(d: Mapping[str, Any]) -> Board:
    return Board(psa_id=wire.psa_id(d), name=wire.text(d, "name"),
                 active=not wire.flag(d, "inactiveFlag"))


def _priority(d: Mapping[str, Any]) -> Priority:
    return Priority(psa_id=wire.psa_id(d), name=wire.text(d, "name"),
                    sort_order=wire.opt_int(d, "sortOrder"))


def _ticket_status(d: Mapping[str, Any], board_id: str) -> TicketStatus:
    return TicketStatus(psa_id=wire.psa_id(d), name=wire.text(d, "name"),
                        board_psa_id=wire.ref_id(d, "board") or board_id,
                        closed=wire.flag(d, "closedStatus"),
                        sort_order=wire.opt_int(d, "sortOrder"))
