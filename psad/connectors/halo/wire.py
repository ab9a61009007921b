"""HaloPSA's wire format: listings, timestamps, envelopes, its JSON mapped to psad records."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from psad.connectors import wire
from psad.connectors.base import Page, translate_page
from psad.connectors.wire import BadRecord
from psad.errors import PsaBadResponse
from psad.model import (
    Address,
    Asset,
    Board,
    Company,
    CompanyStatus,
    Contact,
    Entity,
    Priority,
    Record,
    Site,
    Ticket,
    TicketStatus,
)
from psad.progress import note_custom_fields

MAX_PAGE_SIZE = 100
TOKEN_MARGIN = 60.0
LOOKUP_TTL = 600.0
ID_CHUNK = 1000
FIRST_REAL_YEAR = 1901
CLOSED_STATUS_ID = "9"
IMPORTANT_CONTACT = "Important Contact"
ACTIVE = CompanyStatus(psa_id="active", name="Active", is_default=True)
INACTIVE = CompanyStatus(psa_id="inactive", name="Inactive", is_default=False)

_BOTH_STATES: Mapping[str, str] = {"includeactive": "true", "includeinactive": "true"}
_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2})T00:00:00(\.0+)?(Z|[+-]00:?00)?$")
_SERIAL = ("Serial Number", "Serial No", "Serial", "Service Tag")
_OS = ("Operating System", "OS", "OS Type")
_MANUFACTURER = ("Manufacturer", "Make")
_PURCHASED = ("Purchase Date", "Date of Purchase", "Purchased")


@dataclass(frozen=True, slots=True)
class Listing:
    """A paged Halo list: its path, envelope key and the parameters psad always sends."""

    path: str
    key: str
    params: Mapping[str, str] = field(default_factory=dict)


LISTINGS: dict[Entity, Listing] = {
    Entity.COMPANY: Listing("Client", "clients", _BOTH_STATES),
    Entity.SITE: Listing("Site", "sites", {**_BOTH_STATES, "includeaddress": "true"}),
    Entity.ASSET: Listing("Asset", "assets", {**_BOTH_STATES, "includeassetfields": "true"}),
    Entity.CONTACT: Listing("Users", "users", _BOTH_STATES),
}
TICKETS = Listing("Tickets", "tickets")


def halo_timestamp(moment: datetime) -> str:
    """The changed-since format django-psa sends to Halo: UTC with milliseconds and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True, slots=True)
class _Lookups:
    """Status and priority names for live tickets whose list rows lack them."""

    statuses: dict[str, tuple[str, bool]]
    priorities: dict[str, str]


# --- envelopes -----------------------------------------------------------------------------


def _root(base_url: str) -> str:
    """``https://host`` (plus any path before ``/api``) from the resource server URL."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    path = path[:-4] if path.lower().endswith("/api") else path
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _envelope(body: Any, listing: Listing, integration: str) -> tuple[list[Any], int | None]:
    """The rows and ``record_count`` of a list answer (a bare array is tolerated)."""
    if isinstance(body, list):
        return body, None
    if isinstance(body, dict):
        items = body.get(listing.key)
        if items is None and not body.get("record_count"):
            items = []
        if isinstance(items, list):
            total = body.get("record_count")
            return items, total if isinstance(total, int) and not isinstance(total, bool) else None
    raise PsaBadResponse(f"GET {listing.path}: expected {{record_count, {listing.key}: [...]}}",
                         integration=integration)


def _main_site_ids(items: Sequence[Any]) -> dict[str, str]:
    main: dict[str, str] = {}
    for item in items:
        try:
            d = wire.obj(item, "client")
            client_id, site_id = wire.psa_id(d), wire.opt_id(d, "main_site_id")
        except BadRecord:
            continue
        if site_id is not None:
            main[client_id] = site_id
    return main


def _ids(items: Sequence[Any]) -> list[str]:
    out = []
    for item in items:
        if isinstance(item, dict):
            try:
                out.append(wire.psa_id(item))
            except BadRecord:
                continue
    return out


def _halo_date(d: Mapping[str, Any], key: str) -> date | None:
    value = wire.opt_date(d, key)
    return value if value is not None and value.year >= FIRST_REAL_YEAR else None


def _halo_datetime(d: Mapping[str, Any], key: str) -> datetime | None:
    value = wire.parse_datetime(d.get(key), key)
    return value if value is not None and value.year >= FIRST_REAL_YEAR else None


def _address(d: Mapping[str, Any], key: str) -> Address:
    """An address object (``line1..line4``, ``postcode``) or the flat ``{key}_line1..5`` form."""
    nested = wire.ref(d, key)
    if nested is not None:
        lines = [wire.opt_text(nested, f"line{n}") for n in range(1, 5)]
        postcode = wire.opt_text(nested, "postcode")
    else:
        lines = [wire.opt_text(d, f"{key}_line{n}") for n in range(1, 5)]
        postcode = wire.opt_text(d, f"{key}_line5")
    return Address(line1=lines[0], line2=lines[1], city=lines[2], region=lines[3],
                   postal_code=postcode)


def _type_fields(d: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """An asset's ``fields[]`` by lower-cased name."""
    raw = d.get("fields") or []
    if not isinstance(raw, list):
        raise BadRecord("fields: expected a list")
    out: dict[str, Mapping[str, Any]] = {}
    for item in raw:
        entry = wire.obj(item, "fields[]")
        name = wire.opt_text(entry, "name")
        if name:
            out.setdefault(name.casefold(), entry)
    return out


def _field_entry(fields: Mapping[str, Mapping[str, Any]], names: Sequence[str],
                 ) -> tuple[str, Mapping[str, Any]] | None:
    for name in names:
        entry = fields.get(name.casefold())
        if entry is not None:
            return name, entry
    return None


def _field_text(fields: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> str | None:
    found = _field_entry(fields, names)
    if found is None:
        return None
    name, entry = found
    try:
        return wire.opt_text(entry, "value") or wire.opt_text(entry, "display")
    except BadRecord as err:
        raise BadRecord(f"fields[{name}].{err}") from None


def _field_date(fields: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> date | None:
    found = _field_entry(fields, names)
    if found is None:
        return None
    name, entry = found
    try:
        return _halo_date(entry, "value")
    except BadRecord as err:
        raise BadRecord(f"fields[{name}].{err}") from None


def _custom(d: Mapping[str, Any], selected: Sequence[str]) -> dict[str, Any]:
    """The selected custom fields, matched on label, name or name without ``CF``."""
    raw = d.get("customfields") or []
    if isinstance(raw, list):
        note_custom_fields(str(e.get("label") or e.get("name")) for e in raw
                           if isinstance(e, dict) and (e.get("label") or e.get("name"))
                           and _custom_value(e) is not None)
    if not selected:
        return {}
    if not isinstance(raw, list):
        raise BadRecord("customfields: expected a list")
    wanted = set(selected)
    pairs: list[tuple[str, Any]] = []
    for item in raw:
        entry = wire.obj(item, "customfields[]")
        aliases = _aliases(entry) & wanted
        if aliases:
            value = _custom_value(entry)
            pairs.extend((alias, value) for alias in aliases)
    return wire.pick_custom(pairs, selected)


def _aliases(entry: Mapping[str, Any]) -> set[str]:
    names = {v for k in ("label", "name") if isinstance(v := entry.get(k), str) and v}
    names |= {n[2:] for n in names if n.startswith("CF") and len(n) > 2}
    return names


def _custom_value(entry: Mapping[str, Any]) -> Any:
    value = entry.get("value")
    if value == "":
        return None
    if isinstance(value, str) and (match := _MIDNIGHT.match(value.strip())):
        return match.group(1)
    return value


# --- records -----------------------------------------------------------------------------------


def _client(d: Mapping[str, Any]) -> Company:
    top_level = wire.opt_text(d, "toplevel_name")
    return Company(
        psa_id=wire.psa_id(d),
        name=wire.text(d, "name"),
        website=wire.opt_text(d, "website"),
        status=INACTIVE.name if wire.flag(d, "inactive") else ACTIVE.name,
        types=(top_level,) if top_level else (),
    )


def _site(d: Mapping[str, Any], main_sites: Mapping[str, str]) -> Site:
    site_id = wire.psa_id(d)
    client_id = wire.opt_id(d, "client_id")
    if client_id is None:
        raise BadRecord("client_id: a site needs a client")
    return Site(
        psa_id=site_id,
        company_psa_id=client_id,
        name=wire.text(d, "name"),
        active=not wire.flag(d, "inactive"),
        primary=main_sites.get(client_id) == site_id,
        address=_address(d, "delivery_address"),
    )


def _asset(d: Mapping[str, Any], selected: Sequence[str]) -> Asset:
    fields = _type_fields(d)
    name = wire.opt_text(d, "inventory_number") or wire.opt_text(d, "key_field")
    if name is None:
        raise BadRecord("inventory_number: an asset needs a name")
    return Asset(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.opt_id(d, "client_id"),
        name=name,
        status=wire.opt_text(d, "status_name"),
        type=wire.opt_text(d, "assettype_name"),
        purchase_date=_field_date(fields, _PURCHASED) or _halo_date(d, "supplier_purchasedate"),
        warranty_expiration=_halo_date(d, "warranty_end"),
        serial_number=_field_text(fields, _SERIAL),
        os_type=_field_text(fields, _OS),
        notes=wire.opt_text(d, "notes"),
        manufacturer=_field_text(fields, _MANUFACTURER) or wire.opt_text(d, "manufacturer_name"),
        custom_fields=_custom(d, selected),
    )


def _contact(d: Mapping[str, Any], selected: Sequence[str]) -> Contact:
    first, last = wire.opt_text(d, "firstname"), wire.opt_text(d, "surname")
    if first is None and last is None:
        first = wire.opt_text(d, "name")
        if first is None:
            raise BadRecord("firstname/surname: a contact needs a name")
    return Contact(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.opt_id(d, "client_id"),
        first_name=first,
        last_name=last,
        type=IMPORTANT_CONTACT if wire.flag(d, "isimportantcontact") else None,
        title=wire.opt_text(d, "title"),
        email=wire.opt_text(d, "emailaddress"),
        phone=wire.opt_text(d, "phonenumber") or wire.opt_text(d, "mobilenumber"),
        address=_address(d, "primary_address"),
        active=not wire.flag(d, "inactive"),
        custom_fields=_custom(d, selected),
    )


def _team(d: Mapping[str, Any]) -> Board:
    return Board(psa_id=wire.psa_id(d), name=wire.text(d, "name"),
                 active=not wire.flag(d, "inactive"))


def _status(d: Mapping[str, Any], open_ids: set[str]) -> TicketStatus:
    status_id = wire.psa_id(d)
    closed = status_id not in open_ids or status_id == CLOSED_STATUS_ID
    return TicketStatus(psa_id=status_id, name=wire.text(d, "name"), board_psa_id=None,
                        closed=closed, sort_order=wire.opt_int(d, "sequence"))


def _priorities(items: Sequence[Any]) -> Page:
    """One record per ``priorityid``: Halo repeats each priority once per SLA."""
    page = translate_page(Entity.PRIORITY, items, _priority)
    unique: dict[str, Record] = {}
    for record in page.records:
        unique.setdefault(record.psa_id, record)
    return Page(list(unique.values()), page.rejected)


def _priority(d: Mapping[str, Any]) -> Priority:
    priority_id = wire.psa_id(d, "priorityid")
    return Priority(psa_id=priority_id, name=wire.text(d, "name"),
                    sort_order=wire.opt_int(d, "priorityid"))


def _ticket(d: Mapping[str, Any], lookups: _Lookups, link: Callable[[str], str]) -> Ticket:
    ticket_id = wire.psa_id(d)
    status_id = wire.opt_id(d, "status_id")
    status_name, status_closed = lookups.statuses.get(status_id or "", (None, False))
    priority_id = wire.opt_id(d, "priority_id")
    return Ticket(
        psa_id=ticket_id,
        summary=wire.opt_text(d, "summary") or "",
        company_psa_id=wire.opt_id(d, "client_id"),
        company_name=wire.opt_text(d, "client_name"),
        board=wire.opt_text(d, "team"),
        status=wire.opt_text(d, "status_name") or status_name,
        priority=wire.opt_text(d, "priority_name") or lookups.priorities.get(priority_id or ""),
        contact=wire.opt_text(d, "user_name"),
        created_at=_halo_datetime(d, "dateoccurred"),
        updated_at=_halo_datetime(d, "lastactiondate") or _halo_datetime(d, "last_update"),
        closed=status_closed or _halo_datetime(d, "dateclosed") is not None,
        url=link(ticket_id),
    )
