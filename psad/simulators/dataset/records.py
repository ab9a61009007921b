"""The dataset's record types, their custom field definitions, and their plain JSON form."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, TypeAlias


CustomValue: TypeAlias = str | int | float | bool | date | None

BASE_TIME: Final = datetime(2024, 1, 1, tzinfo=UTC)
"""Generated timestamps fall between this and ``BASE_TIME + SPAN``."""
SPAN: Final = timedelta(days=540)


class _Delete:
    _instance: _Delete | None = None

    def __new__(cls) -> _Delete:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DELETE"


DELETE: Final = _Delete()
"""A wire-override value that removes the key from the rendered record."""


@dataclass(slots=True, kw_only=True)
class SimRecord:
    id: int = 0
    updated_at: datetime = BASE_TIME


@dataclass(slots=True, kw_only=True)
class CompanyStatus(SimRecord):
    name: str = ""
    is_default: bool = False
    inactive: bool = False


@dataclass(slots=True, kw_only=True)
class CompanyType(SimRecord):
    name: str = ""


@dataclass(slots=True, kw_only=True)
class Company(SimRecord):
    identifier: str = ""
    name: str = ""
    website: str | None = None
    status_id: int | None = None
    type_ids: list[int] = field(default_factory=list)
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    region_code: str | None = None
    postal_code: str | None = None
    country: str | None = None
    phone: str | None = None
    created_at: datetime = BASE_TIME


@dataclass(slots=True, kw_only=True)
class Site(SimRecord):
    company_id: int = 0
    name: str = ""
    active: bool = True
    primary: bool = False
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    region_code: str | None = None
    postal_code: str | None = None
    country: str | None = None
    phone: str | None = None
    created_at: datetime = BASE_TIME


@dataclass(slots=True, kw_only=True)
class Asset(SimRecord):
    company_id: int | None = None
    name: str = ""
    status: str | None = None
    type: str | None = None
    purchase_date: date | None = None
    warranty_expiration: date | None = None
    serial_number: str | None = None
    os_type: str | None = None
    notes: str | None = None
    manufacturer: str | None = None
    custom_fields: dict[str, CustomValue] = field(default_factory=dict)
    created_at: datetime = BASE_TIME


@dataclass(slots=True, kw_only=True)
class Contact(SimRecord):
    company_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    type: str | None = None
    title: str | None = None
    email: str | None = None
    phone: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    active: bool = True
    custom_fields: dict[str, CustomValue] = field(default_factory=dict)
    created_at: datetime = BASE_TIME


@dataclass(slots=True, kw_only=True)
class Board(SimRecord):
    name: str = ""
    active: bool = True


@dataclass(slots=True, kw_only=True)
class TicketStatus(SimRecord):
    board_id: int = 0
    name: str = ""
    closed: bool = False
    sort_order: int = 0


@dataclass(slots=True, kw_only=True)
class Priority(SimRecord):
    name: str = ""
    sort_order: int = 0


@dataclass(slots=True, kw_only=True)
class Ticket(SimRecord):
    summary: str = ""
    company_id: int | None = None
    board_id: int | None = None
    status_id: int | None = None
    priority_id: int | None = None
    contact_id: int | None = None
    created_at: datetime = BASE_TIME
    closed: bool = False


@dataclass(frozen=True, slots=True)
class CustomFieldDef:
    id: int
    caption: str
    type: str
    """One of "Text", "Number", "Checkbox", "Date"."""


RECORD_TYPES: Final[dict[str, type[SimRecord]]] = {
    "company_statuses": CompanyStatus,
    "company_types": CompanyType,
    "companies": Company,
    "sites": Site,
    "assets": Asset,
    "contacts": Contact,
    "boards": Board,
    "ticket_statuses": TicketStatus,
    "priorities": Priority,
    "tickets": Ticket,
}
ENTITIES: Final = tuple(RECORD_TYPES)

ASSET_FIELDS: Final = (
    CustomFieldDef(1, "Backup", "Checkbox"),
    CustomFieldDef(2, "Rack", "Text"),
    CustomFieldDef(3, "Cost Centre", "Number"),
    CustomFieldDef(4, "Last Audit", "Date"),
)
CONTACT_FIELDS: Final = (
    CustomFieldDef(11, "Preferred Channel", "Text"),
    CustomFieldDef(12, "VIP", "Checkbox"),
    CustomFieldDef(13, "Extension", "Number"),
)


def to_json(record: SimRecord) -> dict[str, Any]:
    """A record as plain JSON values (dates as ISO strings)."""
    return {f.name: _jsonable(getattr(record, f.name)) for f in dataclasses.fields(record)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
