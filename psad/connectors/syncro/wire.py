"""Syncro's wire format: ids for its id-less names, and its JSON mapped to psad records."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any, Final

from psad.connectors import wire
from psad.connectors.base import Page
from psad.connectors.wire import BadRecord
from psad.errors import ConfigError, PsaBadResponse, PsaInvalidId
from psad.model import (
    Address,
    Asset,
    Company,
    CompanyStatus,
    Contact,
    Entity,
    Record,
    Rejected,
    Site,
)
from psad.progress import note_custom_fields

ACTIVE, DISABLED = "Active", "Disabled"
CLOSED_STATUSES: Final = frozenset({"Resolved", "Invoiced"})
SITE_NAME: Final = "Main"
MAX_SCAN_PAGES: Final = 20
"""Upstream ticket pages one live list may read when filtering client-side."""

OS_FIELDS: Final = ("Operating System", "OS", "os_name")
MANUFACTURER_FIELDS: Final = ("Manufacturer", "Make")
PURCHASE_FIELDS: Final = ("Purchase Date", "Purchased", "Date Purchased", "purchase_date")
WARRANTY_FIELDS: Final = ("Warranty Expiration", "Warranty Expires", "Warranty Expiry",
                          "Warranty End", "warranty_end_date")

_LISTS: Final[dict[Entity, tuple[str, str]]] = {
    Entity.COMPANY: ("customers", "customers"),
    Entity.SITE: ("customers", "customers"),
    Entity.ASSET: ("customer_assets", "assets"),
    Entity.CONTACT: ("contacts", "contacts"),
}
_CUSTOMER_PARAMS: Final = {"include_disabled": "true"}
_US_DATE: Final = re.compile(r"^(\d{1,2})[/-](\d{1,2})[/-](\d{4})$")
_COMPANY_STATUSES: Final = (CompanyStatus(psa_id="active", name=ACTIVE, is_default=True),
                            CompanyStatus(psa_id="disabled", name=DISABLED, is_default=False))


# --- ids for names --------------------------------------------------------------------


def name_id(name: str) -> str:
    """A psa id for an id-less Syncro name: letters and digits kept, ``_`` for a
    space, ``-XX`` for every other UTF-8 byte (so web-safe and reversible)."""
    out: list[str] = []
    for ch in name:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ch == " ":
            out.append("_")
        else:
            out.extend(f"-{b:02X}" for b in ch.encode())
    return "".join(out)


def id_name(psa_id: str) -> str:
    """The name behind :func:`name_id`; PsaInvalidId when ``psa_id`` is not one."""
    raw = bytearray()
    i = 0
    while i < len(psa_id):
        ch = psa_id[i]
        if ch == "-":
            pair = psa_id[i + 1:i + 3]
            if len(pair) != 2 or not all(c in "0123456789ABCDEF" for c in pair):
                raise PsaInvalidId(f"{psa_id!r} is not a Syncro name id")
            raw.append(int(pair, 16))
            i += 3
            continue
        if ch == "_":
            raw.append(0x20)
        elif ch.isascii() and ch.isalnum():
            raw.append(ord(ch))
        else:
            raise PsaInvalidId(f"{psa_id!r} is not a Syncro name id")
        i += 1
    try:
        name = raw.decode()
    except UnicodeDecodeError:
        raise PsaInvalidId(f"{psa_id!r} is not a Syncro name id") from None
    if not name.strip() or name_id(name) != psa_id:
        raise PsaInvalidId(f"{psa_id!r} is not a Syncro name id")
    return name


# --- translation ------------------------------------------------------------------------


def _ticket_filter(board: str | None, priority: str | None,
                   ) -> Callable[[Mapping[str, Any]], bool] | None:
    """Syncro cannot filter tickets by problem type or priority; psad does, per item."""
    if board is None and priority is None:
        return None

    def keep(t: Mapping[str, Any]) -> bool:
        return ((board is None or t.get("problem_type") == board)
                and (priority is None or t.get("priority") == priority))
    return keep


def _positive_int(raw: str | None, default: int, where: str) -> int:
    if raw is None or not raw.strip():
        return default
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ConfigError([f"{where}: must be a whole number of at least 1"])
    return int(raw)


def _name_list(body: Mapping[str, Any], key: str, path: str, integration: str) -> list[Any]:
    names = body.get(key)
    if not isinstance(names, list):
        raise PsaBadResponse(f"GET {path}: expected a {key!r} list", integration=integration)
    return names


def _named(entity: Entity, names: Sequence[Any], build: Callable[[str, int], Record]) -> Page:
    """Records for a settings name list; position in the list is the sort order."""
    records: list[Record] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for position, raw in enumerate(names):
        try:
            name = wire.opt_text({"name": raw}, "name")
            if name is None or name in seen:
                continue  # Syncro lists a blank priority first
            seen.add(name)
            record = build(name, position)
            wire.psa_id({"id": record.psa_id})
        except BadRecord as err:
            rejected.append(Rejected(entity, None, f"{entity.value}[{position}]: {err}"))
            continue
        records.append(record)
    return Page(records, rejected)


def _properties(d: Mapping[str, Any]) -> Mapping[str, Any]:
    props = d.get("properties")
    if props is None:
        return {}
    return wire.obj(props, "properties")


def _blank(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _custom(props: Mapping[str, Any], selected: Sequence[str]) -> dict[str, Any]:
    pairs = [(k, _blank(v)) for k, v in props.items()]
    note_custom_fields(name for name, value in pairs if value is not None)
    return wire.pick_custom(pairs, selected)


def _property(props: Mapping[str, Any], names: Iterable[str]) -> Any:
    """The first non-empty custom field among ``names`` (matched case-insensitively)."""
    folded = {str(k).casefold(): v for k, v in props.items()}
    for name in names:
        value = _blank(folded.get(name.casefold()))
        if value is not None and not isinstance(value, (dict, list)):
            return value
    return None


def _property_text(props: Mapping[str, Any], names: Iterable[str]) -> str | None:
    value = _property(props, names)
    return wire.opt_text({"v": value}, "v") if value is not None else None


def _loose_date(value: Any) -> date | None:
    """A custom date field: ISO ``YYYY-MM-DD…`` or US ``MM/DD/YYYY``; else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if us := _US_DATE.match(text):
            return date(int(us[3]), int(us[1]), int(us[2]))
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _address(d: Mapping[str, Any], line1: str, line2: str) -> Address:
    return Address(line1=wire.opt_text(d, line1), line2=wire.opt_text(d, line2),
                   city=wire.opt_text(d, "city"), region=wire.opt_text(d, "state"),
                   postal_code=wire.opt_text(d, "zip"))


def _customer_name(d: Mapping[str, Any]) -> str:
    person = " ".join(p for p in (wire.opt_text(d, "firstname"), wire.opt_text(d, "lastname"))
                      if p)
    name = (wire.opt_text(d, "business_name") or wire.opt_text(d, "business_then_name")
            or wire.opt_text(d, "fullname") or person)
    if not name:
        raise BadRecord("business_name: a customer needs a business or person name")
    return name


def _company(d: Mapping[str, Any], website_field: str | None) -> Company:
    website = _property_text(_properties(d), (website_field,)) if website_field else None
    return Company(psa_id=wire.psa_id(d), name=_customer_name(d), website=website,
                   status=DISABLED if wire.flag(d, "disabled") else ACTIVE)


def _site(d: Mapping[str, Any]) -> Site:
    customer_id = wire.psa_id(d)
    return Site(psa_id=customer_id, company_psa_id=customer_id, name=SITE_NAME,
                active=not wire.flag(d, "disabled"), primary=True,
                address=_address(d, "address", "address_2"))


def _agent_os(props: Mapping[str, Any]) -> str | None:
    kabuto = props.get("kabuto_information")
    os_info = kabuto.get("os") if isinstance(kabuto, dict) else None
    return wire.opt_text(os_info, "name") if isinstance(os_info, dict) else None


def _asset(d: Mapping[str, Any], selected: Sequence[str]) -> Asset:
    props = _properties(d)
    return Asset(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.opt_id(d, "customer_id"),
        name=wire.text(d, "name"),
        type=wire.opt_text(d, "asset_type"),
        purchase_date=_loose_date(_property(props, PURCHASE_FIELDS)),
        warranty_expiration=_loose_date(_property(props, WARRANTY_FIELDS)),
        serial_number=wire.opt_text(d, "asset_serial"),
        os_type=_agent_os(props) or _property_text(props, OS_FIELDS),
        manufacturer=_property_text(props, MANUFACTURER_FIELDS),
        custom_fields=_custom(props, selected),
    )


def _contact(d: Mapping[str, Any], selected: Sequence[str]) -> Contact:
    props = _properties(d)
    name = wire.opt_text(d, "name")
    if name is None:
        raise BadRecord("name: a contact needs a name")
    first, _, last = name.partition(" ")
    return Contact(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.opt_id(d, "customer_id"),
        first_name=first,
        last_name=last.strip() or None,
        title=wire.opt_text(d, "title") or _property_text(props, ("title",)),
        email=wire.opt_text(d, "email"),
        phone=wire.opt_text(d, "phone") or wire.opt_text(d, "mobile"),
        address=_address(d, "address1", "address2"),
        custom_fields=_custom(props, selected),
    )
