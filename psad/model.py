"""Normalized, vendor-free records: what psad stores and shows.

Every connector translates its PSA's wire format into these types and nothing
else crosses the connector boundary. A record's ``psa_id`` is the PSA's own
identifier as a string (ids are numbers in some PSAs and GUIDs in others).
References to other records (a site's company, a ticket status's board) are
PSA ids too, never local row ids.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import ClassVar, TypeAlias

CustomValue: TypeAlias = str | int | float | bool | None
CustomFields: TypeAlias = Mapping[str, CustomValue]


class Entity(enum.StrEnum):
    """The synced entities, in the order a sync visits them."""

    COMPANY_STATUS = "company_statuses"
    COMPANY = "companies"
    SITE = "sites"
    ASSET = "assets"
    CONTACT = "contacts"
    BOARD = "boards"
    PRIORITY = "priorities"
    TICKET_STATUS = "ticket_statuses"

    @property
    def record_type(self) -> type[Record]:
        return RECORD_TYPES[self]

    @property
    def is_company_child(self) -> bool:
        """Whether its records belong to a company (and so follow its scope)."""
        return self in (Entity.SITE, Entity.ASSET, Entity.CONTACT)


SYNC_ORDER: tuple[Entity, ...] = tuple(Entity)
"""Statuses before companies, companies before what hangs off them."""


@dataclass(frozen=True, slots=True)
class Record:
    entity: ClassVar[Entity]
    psa_id: str

    def values(self) -> tuple[object, ...]:
        """The record's fields after ``psa_id``, in declaration order."""
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self)[1:])

    @classmethod
    def value_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls)[1:])


@dataclass(frozen=True, slots=True)
class CompanyStatus(Record):
    entity: ClassVar[Entity] = Entity.COMPANY_STATUS
    name: str
    is_default: bool


@dataclass(frozen=True, slots=True)
class Company(Record):
    entity: ClassVar[Entity] = Entity.COMPANY
    name: str
    website: str | None
    status: str | None
    """The company's status name (matches a CompanyStatus name)."""
    types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Address:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Site(Record):
    entity: ClassVar[Entity] = Entity.SITE
    company_psa_id: str
    name: str
    active: bool
    primary: bool
    address: Address = Address()


@dataclass(frozen=True, slots=True)
class Asset(Record):
    entity: ClassVar[Entity] = Entity.ASSET
    company_psa_id: str | None
    name: str
    status: str | None = None
    type: str | None = None
    purchase_date: date | None = None
    warranty_expiration: date | None = None
    serial_number: str | None = None
    os_type: str | None = None
    notes: str | None = None
    manufacturer: str | None = None
    custom_fields: CustomFields = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Contact(Record):
    entity: ClassVar[Entity] = Entity.CONTACT
    company_psa_id: str | None
    first_name: str | None
    last_name: str | None
    type: str | None = None
    title: str | None = None
    email: str | None = None
    phone: str | None = None
    address: Address = Address()
    active: bool = True
    custom_fields: CustomFields = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Board(Record):
    """A service board (ConnectWise), queue (Autotask, BMS) or team (Halo)."""

    entity: ClassVar[Entity] = Entity.BOARD
    name: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class Priority(Record):
    entity: ClassVar[Entity] = Entity.PRIORITY
    name: str
    sort_order: int | None = None


@dataclass(frozen=True, slots=True)
class TicketStatus(Record):
    """A ticket status; ``board_psa_id`` is None where statuses are global."""

    entity: ClassVar[Entity] = Entity.TICKET_STATUS
    name: str
    board_psa_id: str | None = None
    closed: bool = False
    sort_order: int | None = None


RECORD_TYPES: dict[Entity, type[Record]] = {
    Entity.COMPANY_STATUS: CompanyStatus,
    Entity.COMPANY: Company,
    Entity.SITE: Site,
    Entity.ASSET: Asset,
    Entity.CONTACT: Contact,
    Entity.BOARD: Board,
    Entity.PRIORITY: Priority,
    Entity.TICKET_STATUS: TicketStatus,
}


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record the connector could not translate; the run goes on without it."""

    entity: Entity
    psa_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Ticket:
    """A live ticket, never stored. Names are resolved by the PSA at read time."""

    psa_id: str
    summary: str
    company_psa_id: str | None = None
    company_name: str | None = None
    board: str | None = None
    status: str | None = None
    priority: str | None = None
    contact: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed: bool = False
    url: str | None = None


@dataclass(frozen=True, slots=True)
class TicketQuery:
    """Filters for a live ticket list. Board/status/priority are PSA ids."""

    company: str | None = None
    board: str | None = None
    status: str | None = None
    priority: str | None = None
    text: str | None = None
    page: int = 1
    page_size: int = 25


@dataclass(frozen=True, slots=True)
class RejectedTicket:
    """A listed ticket the connector could not read: skipped, and reported with the page."""

    psa_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class TicketPage:
    tickets: tuple[Ticket, ...]
    page: int
    page_size: int
    has_more: bool
    total: int | None = None
    rejected: tuple[RejectedTicket, ...] = ()
