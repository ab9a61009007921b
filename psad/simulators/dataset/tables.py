"""The :class:`Dataset`: per-entity tables with ascending id lists and parent indexes,
its clock, mutations and wire overrides, and the seeded generator that fills it."""

from __future__ import annotations

import dataclasses
import random
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, TypedDict

from psad.simulators.dataset.records import (
    ASSET_FIELDS,
    BASE_TIME,
    CONTACT_FIELDS,
    ENTITIES,
    RECORD_TYPES,
    SPAN,
    Asset,
    Board,
    Company,
    CompanyStatus,
    CompanyType,
    Contact,
    CustomFieldDef,
    Priority,
    SimRecord,
    Site,
    Ticket,
    TicketStatus,
)
from psad.simulators.dataset.vocabulary import (
    ASSET_STATUSES,
    ASSET_TYPES,
    BOARD_NAMES,
    COMPANY_STATUSES,
    COMPANY_TYPES,
    CONTACT_TYPES,
    MANUFACTURERS,
    PRIORITIES,
    TICKET_STATUSES,
    TITLES,
)


_INDEXED: Final = {"sites": "company_id", "ticket_statuses": "board_id"}
_DATE_FIELDS: Final = frozenset({"purchase_date", "warranty_expiration"})
_DATETIME_FIELDS: Final = frozenset({"updated_at", "created_at"})


_FIRST: Final = (
    "Ann", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hannah", "Isaac", "Jack", "Karen",
    "Liam", "Mia", "Noah", "Olivia", "Priya", "Quentin", "Ruth", "Sam", "Tariq", "Una", "Victor",
    "Wendy", "Xavier", "Yusuf", "Zoe", "Amelie", "Bjorn", "Chen", "Dana", "Elif", "Felix",
    "Giulia", "Hugo", "Ines", "Jose", "Kenji", "Lena", "Mateo", "Nadia", "Oscar", "Paula",
)
_LAST: Final = (
    "Lee", "Smith", "Jones", "Brown", "Taylor", "Wilson", "Patel", "Nguyen", "Murphy", "O'Brien",
    "Garcia", "Martin", "Walker", "Hughes", "Khan", "Evans", "Cooper", "Reid", "Fraser", "Kowalski",
    "Muller", "Rossi", "Dubois", "Schmidt", "Silva", "Novak", "Jensen", "Moreau", "Lopez", "Clarke",
)
_CO_FIRST: Final = (
    "Northwind", "Blue Ridge", "Summit", "Harbour", "Oakfield", "Redwood", "Silverline", "Kestrel",
    "Meridian", "Ironbridge", "Larkspur", "Granite", "Bayside", "Cedar", "Foxglove", "Highgate",
    "Juniper", "Lakeshore", "Marlow", "Pinecrest", "Riverside", "Stonegate", "Thistle", "Westbrook",
    "Acme", "Brightwater", "Copperleaf", "Driftwood", "Elmstead", "Fairview",
)
_CO_TRADE: Final = (
    "Dental", "Logistics", "Legal", "Accounting", "Veterinary", "Engineering", "Architects",
    "Property", "Medical", "Builders", "Motors", "Insurance", "Consulting", "Foods", "Print",
    "Travel", "Physio", "Opticians", "Wealth", "Labs",
)
_CO_SUFFIX: Final = ("Ltd", "Inc", "LLC", "Group", "Partners", "& Co", "Pty Ltd", "")
_TLDS: Final = (".com", ".com", ".net", ".co.uk", ".com.au", ".ca")
_STREETS: Final = (
    "High St", "Main St", "Station Rd", "Church Lane", "Park Ave", "Queen St", "King St",
    "Market Sq", "Mill Rd", "Victoria Rd", "Elm St", "Harbour Rd", "Bridge St", "Oak Ave",
)
_CITIES: Final = (
    ("Leeds", "West Yorkshire", "WYK", "United Kingdom", "LS{0} {1}AB"),
    ("Bristol", "Bristol", "BST", "United Kingdom", "BS{0} {1}XY"),
    ("Manchester", "Greater Manchester", "MAN", "United Kingdom", "M{0} {1}QT"),
    ("Austin", "Texas", "TX", "United States", "787{0:02d}"),
    ("Denver", "Colorado", "CO", "United States", "802{0:02d}"),
    ("Tampa", "Florida", "FL", "United States", "336{0:02d}"),
    ("Columbus", "Ohio", "OH", "United States", "432{0:02d}"),
    ("Sydney", "New South Wales", "NSW", "Australia", "20{0:02d}"),
    ("Brisbane", "Queensland", "QLD", "Australia", "40{0:02d}"),
    ("Toronto", "Ontario", "ON", "Canada", "M{0}V {1}K2"),
    ("Montréal", "Québec", "QC", "Canada", "H{0}A {1}B3"),
)
_SITE_NAMES: Final = ("Main", "Head Office", "Warehouse", "Branch", "Clinic", "Depot", "Studio", "Annex")
_OS: Final = {
    "Workstation": ("Windows 11 Pro", "Windows 10 Pro", "macOS 14"),
    "Laptop": ("Windows 11 Pro", "macOS 15", "Windows 10 Pro"),
    "Server": ("Windows Server 2022", "Windows Server 2019", "Ubuntu 22.04 LTS"),
    "NAS": ("DSM 7.2",),
}
_NOTES: Final = (
    "Replaced PSU 2024", "Under extended warranty", "Loaner device", "Reimaged after malware",
    "Located in comms cupboard", "Shared by reception", "Battery swollen, monitor", "Firmware up to date",
)
_SUMMARIES: Final = (
    "Printer offline on {floor} floor", "Password reset for {first}", "New starter set-up: {first} {last}",
    "VPN drops every few minutes", "Outlook keeps asking for password", "Backup job failed overnight",
    "Replace toner in {floor} floor printer", "Slow Wi-Fi in meeting room", "Server disk space low",
    "Phishing email reported by {first}", "Laptop will not boot", "Move desk phone for {first} {last}",
)
_FLOORS: Final = ("ground", "first", "second", "third")


class _Address(TypedDict):
    line1: str | None
    line2: str | None
    city: str | None
    region: str | None
    region_code: str | None
    postal_code: str | None
    country: str | None


def _camel(words: str) -> str:
    return "".join(ch for ch in words.title() if ch.isalnum())


class Dataset:
    """The shared records plus a monotonic clock and wire overrides."""

    def __init__(self) -> None:
        self.company_statuses: dict[int, CompanyStatus] = {}
        self.company_types: dict[int, CompanyType] = {}
        self.companies: dict[int, Company] = {}
        self.sites: dict[int, Site] = {}
        self.assets: dict[int, Asset] = {}
        self.contacts: dict[int, Contact] = {}
        self.boards: dict[int, Board] = {}
        self.ticket_statuses: dict[int, TicketStatus] = {}
        self.priorities: dict[int, Priority] = {}
        self.tickets: dict[int, Ticket] = {}
        self.asset_fields: tuple[CustomFieldDef, ...] = ASSET_FIELDS
        self.contact_fields: tuple[CustomFieldDef, ...] = CONTACT_FIELDS
        self._tables: dict[str, dict[int, Any]] = {name: getattr(self, name) for name in ENTITIES}
        self._ids: dict[str, list[int]] = {name: [] for name in ENTITIES}
        self._next_id: dict[str, int] = dict.fromkeys(ENTITIES, 1)
        self._children: dict[str, dict[int, list[int]]] = {name: {} for name in _INDEXED}
        self._overrides: dict[str, dict[int, dict[str, object]]] = {name: {} for name in ENTITIES}
        self._last = BASE_TIME

    # --- generation ---------------------------------------------------------------

    @classmethod
    def generate(
        cls,
        seed: int,
        *,
        companies: int = 50,
        sites_per_company: int = 2,
        assets: int = 500,
        contacts: int = 250,
        tickets: int = 200,
        boards: int = 3,
    ) -> Dataset:
        ds = cls()
        _Generator(ds, random.Random(seed)).run(
            companies, sites_per_company, assets, contacts, tickets, boards
        )
        ds._last = max(
            (r.updated_at for t in ds._tables.values() for r in t.values()), default=BASE_TIME
        ) + timedelta(seconds=1)
        return ds

    def _insert(self, entity: str, record: SimRecord) -> None:
        """Store a record under the next id (generation and ``add``)."""
        record.id = self._next_id[entity]
        self._next_id[entity] = record.id + 1
        self._tables[entity][record.id] = record
        self._ids[entity].append(record.id)
        parent_field = _INDEXED.get(entity)
        if parent_field is not None:
            parent = getattr(record, parent_field)
            self._children[entity].setdefault(parent, []).append(record.id)

    # --- reading ------------------------------------------------------------------

    def table(self, entity: str) -> dict[int, Any]:
        """The live id → record dict of ``entity`` (do not mutate it directly)."""
        try:
            return self._tables[entity]
        except KeyError:
            raise KeyError(f"unknown entity {entity!r}") from None

    def ids(self, entity: str) -> list[int]:
        """The live ascending id list of ``entity`` (read-only by convention)."""
        self.table(entity)
        return self._ids[entity]

    def records(self, entity: str) -> list[Any]:
        table = self.table(entity)
        return [table[i] for i in self._ids[entity]]

    def get(self, entity: str, record_id: int) -> Any | None:
        return self.table(entity).get(record_id)

    def children(self, entity: str, parent_id: int) -> list[int]:
        """Ascending ids of the sites of a company or the statuses of a board."""
        if entity not in _INDEXED:
            raise KeyError(f"{entity!r} has no parent index")
        return self._children[entity].get(parent_id, [])

    def count(self, entity: str) -> int:
        return len(self.table(entity))

    # --- clock and mutation ---------------------------------------------------------

    def now(self) -> datetime:
        """Strictly increasing per call, never before the data or the real clock."""
        self._last = max(datetime.now(UTC), self._last + timedelta(milliseconds=1))
        return self._last

    def add(self, entity: str, **fields: Any) -> Any:
        record_type = RECORD_TYPES.get(entity)
        if record_type is None:
            raise KeyError(f"unknown entity {entity!r}")
        fields.pop("id", None)
        _check_fields(record_type, fields)
        stamp = self.now()
        fields.setdefault("updated_at", stamp)
        if "created_at" in _field_names(record_type):
            fields.setdefault("created_at", stamp)
        record = record_type(**fields)
        self._insert(entity, record)
        return record

    def update(self, entity: str, record_id: int, **changes: Any) -> Any:
        record = self.get(entity, record_id)
        if record is None:
            raise KeyError(f"{entity} {record_id} does not exist")
        changes.pop("id", None)
        _check_fields(type(record), changes)
        parent_field = _INDEXED.get(entity)
        if parent_field is not None and parent_field in changes:
            self._unindex(entity, record)
        for name, value in changes.items():
            setattr(record, name, value)
        if "updated_at" not in changes:
            record.updated_at = self.now()
        if parent_field is not None and parent_field in changes:
            siblings = self._children[entity].setdefault(getattr(record, parent_field), [])
            siblings.insert(bisect_left(siblings, record.id), record.id)
        return record

    def delete(self, entity: str, record_id: int) -> None:
        table = self.table(entity)
        record = table.pop(record_id, None)
        if record is None:
            raise KeyError(f"{entity} {record_id} does not exist")
        ids = self._ids[entity]
        del ids[bisect_left(ids, record_id)]
        if entity in _INDEXED:
            self._unindex(entity, record)
        self._overrides[entity].pop(record_id, None)

    def _unindex(self, entity: str, record: SimRecord) -> None:
        siblings = self._children[entity].get(getattr(record, _INDEXED[entity]), [])
        position = bisect_left(siblings, record.id)
        if position < len(siblings) and siblings[position] == record.id:
            del siblings[position]

    def touch_random(
        self,
        share: float,
        rng: random.Random,
        entities: Iterable[str] = ("companies", "sites", "assets", "contacts"),
    ) -> dict[str, list[int]]:
        """Change ``share`` of each entity's records (a text field and ``updated_at``)."""
        touched: dict[str, list[int]] = {}
        for entity in entities:
            ids = self.ids(entity)
            picked = sorted(rng.sample(ids, round(len(ids) * share)))
            for record_id in picked:
                self.update(entity, record_id, **_touch_change(self.table(entity)[record_id], rng))
            touched[entity] = picked
        return touched

    # --- wire overrides -------------------------------------------------------------

    def corrupt(self, entity: str, record_id: int, wire_field: str, value: object) -> None:
        """Make ``wire_field`` of this record render as ``value`` (``DELETE`` drops it)."""
        self.table(entity)
        self._overrides[entity].setdefault(record_id, {})[wire_field] = value

    def overrides(self, entity: str, record_id: int) -> Mapping[str, object] | None:
        return self._overrides[entity].get(record_id)

    def clear_corruption(self) -> None:
        for table in self._overrides.values():
            table.clear()

    # --- JSON helpers for control endpoints --------------------------------------------

    @staticmethod
    def coerce(fields: Mapping[str, Any]) -> dict[str, Any]:
        """JSON values → record values: ISO strings become dates and datetimes."""
        out = dict(fields)
        for name, value in fields.items():
            if isinstance(value, str) and name in _DATE_FIELDS:
                out[name] = date.fromisoformat(value[:10])
            elif isinstance(value, str) and name in _DATETIME_FIELDS:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                out[name] = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return out


def _field_names(record_type: type[SimRecord]) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(record_type))


def _check_fields(record_type: type[SimRecord], fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - _field_names(record_type)
    if unknown:
        raise ValueError(f"{record_type.__name__} has no field(s) {', '.join(sorted(unknown))}")


def _touch_change(record: SimRecord, rng: random.Random) -> dict[str, Any]:
    stamp = rng.randrange(1_000_000)
    if isinstance(record, Asset):
        return {"notes": f"Checked {stamp:06d}"}
    if isinstance(record, Contact):
        return {"title": rng.choice(TITLES)}
    if isinstance(record, Site):
        return {"line2": f"Unit {stamp % 90 + 1}"}
    if isinstance(record, Company):
        return {"phone": f"+1 555 {stamp % 10000:04d}"}
    if isinstance(record, Ticket):
        return {"summary": f"{record.summary.split(' [')[0]} [{stamp:06d}]"}
    return {"name": f"{getattr(record, 'name', '')}".split(" #")[0] + f" #{stamp % 100}"}


class _Generator:
    """Fills a Dataset; every value comes from ``rng`` in a fixed order."""

    def __init__(self, ds: Dataset, rng: random.Random) -> None:
        self.ds = ds
        self.rng = rng
        self.span = int(SPAN.total_seconds())

    def stamp(self) -> datetime:
        return BASE_TIME + timedelta(seconds=self.rng.randrange(self.span))

    def stamps(self) -> tuple[datetime, datetime]:
        """(created, updated) with updated on or after created."""
        a, b = self.rng.randrange(self.span), self.rng.randrange(self.span)
        return BASE_TIME + timedelta(seconds=min(a, b)), BASE_TIME + timedelta(seconds=max(a, b))

    def run(
        self, companies: int, sites_per_company: int, assets: int, contacts: int, tickets: int, boards: int
    ) -> None:
        self.lookups(boards)
        self.companies(companies)
        self.sites(sites_per_company)
        self.assets(assets)
        contacts_by_company = self.contacts(contacts)
        self.tickets(tickets, contacts_by_company)

    def lookups(self, boards: int) -> None:
        ds = self.ds
        for name, is_default, inactive in COMPANY_STATUSES:
            ds._insert("company_statuses", CompanyStatus(
                name=name, is_default=is_default, inactive=inactive, updated_at=self.stamp()))
        for name in COMPANY_TYPES:
            ds._insert("company_types", CompanyType(name=name, updated_at=self.stamp()))
        for n in range(boards):
            name = BOARD_NAMES[n] if n < len(BOARD_NAMES) else f"Board {n + 1}"
            ds._insert("boards", Board(name=name, active=n != 4, updated_at=self.stamp()))
            board_id = ds._ids["boards"][-1]
            for order, (status, closed) in enumerate(TICKET_STATUSES):
                ds._insert("ticket_statuses", TicketStatus(
                    board_id=board_id, name=status, closed=closed, sort_order=order,
                    updated_at=self.stamp()))
        for order, name in enumerate(PRIORITIES, start=1):
            ds._insert("priorities", Priority(name=name, sort_order=order, updated_at=self.stamp()))

    def address(self) -> _Address:
        rng = self.rng
        city, region, code, country, postal = rng.choice(_CITIES)
        return {
            "line1": f"{rng.randint(1, 400)} {rng.choice(_STREETS)}",
            "line2": f"Suite {rng.randint(1, 60)}" if rng.random() < 0.2 else None,
            "city": city,
            "region": region,
            "region_code": code,
            "postal_code": postal.format(rng.randint(1, 28), rng.randint(1, 9)),
            "country": country,
        }

    def phone(self) -> str:
        rng = self.rng
        return f"+1 {rng.randint(200, 989)} {rng.randint(200, 999)} {rng.randint(0, 9999):04d}"

    def companies(self, count: int) -> None:
        rng, ds = self.rng, self.ds
        status_weights = (85, 6, 3, 3, 3)
        taken: set[str] = set()
        status_ids = ds._ids["company_statuses"]
        type_ids = ds._ids["company_types"]
        for n in range(count):
            base = f"{rng.choice(_CO_FIRST)} {rng.choice(_CO_TRADE)}"
            name = f"{base} {rng.choice(_CO_SUFFIX)}".strip()
            identifier = _camel(base)[:20]
            if identifier in taken:
                identifier = f"{identifier[:18]}{n}"
            taken.add(identifier)
            slug = "".join(ch for ch in base.lower() if ch.isalnum())
            website = None if rng.random() < 0.06 else f"www.{slug}{rng.choice(_TLDS)}"
            types = [type_ids[0]] if rng.random() < 0.8 else rng.sample(type_ids, rng.randint(1, 2))
            created, updated = self.stamps()
            ds._insert("companies", Company(
                identifier=identifier, name=name, website=website,
                status_id=rng.choices(status_ids, status_weights)[0], type_ids=sorted(types),
                phone=self.phone(), created_at=created, updated_at=updated,
                **self.address()))

    def sites(self, per_company: int) -> None:
        rng, ds = self.rng, self.ds
        for company in list(ds.companies.values()):
            for n in range(per_company):
                name = "Main" if n == 0 else f"{rng.choice(_SITE_NAMES[1:])} {n}"
                address: _Address = self.address() if n else {
                    "line1": company.line1, "line2": company.line2, "city": company.city,
                    "region": company.region, "region_code": company.region_code,
                    "postal_code": company.postal_code, "country": company.country,
                }
                created, updated = self.stamps()
                ds._insert("sites", Site(
                    company_id=company.id, name=name, active=n == 0 or rng.random() > 0.05,
                    primary=n == 0, phone=self.phone() if rng.random() < 0.7 else None,
                    created_at=created, updated_at=updated, **address))

    def assets(self, count: int) -> None:
        rng, ds = self.rng, self.ds
        company_ids = ds._ids["companies"]
        identifiers = {c.id: c.identifier[:6].upper() for c in ds.companies.values()}
        for n in range(1, count + 1):
            company_id = rng.choice(company_ids) if company_ids else None
            kind = rng.choice(ASSET_TYPES)
            purchased = (BASE_TIME.date() - timedelta(days=rng.randrange(2000))
                         if rng.random() < 0.85 else None)
            warranty = (purchased + timedelta(days=365 * rng.choice((1, 3, 5)))
                        if purchased is not None and rng.random() < 0.8 else None)
            prefix = identifiers.get(company_id, "ASSET") if company_id else "ASSET"
            created, updated = self.stamps()
            ds._insert("assets", Asset(
                company_id=company_id,
                name=f"{prefix}-{kind[:2].upper()}{n:05d}",
                status=rng.choice(ASSET_STATUSES),
                type=kind,
                purchase_date=purchased,
                warranty_expiration=warranty,
                serial_number=f"{rng.choice('CDFHJKLMNPRSTVWXYZ')}{rng.getrandbits(40):010X}"
                if rng.random() < 0.9 else None,
                os_type=rng.choice(_OS[kind]) if kind in _OS else None,
                notes=rng.choice(_NOTES) if rng.random() < 0.3 else None,
                manufacturer=rng.choice(MANUFACTURERS),
                custom_fields={
                    "Backup": rng.random() < 0.5 if kind in ("Server", "NAS") else None,
                    "Rack": f"R{rng.randint(1, 9)}-U{rng.randint(1, 42)}" if kind == "Server" else None,
                    "Cost Centre": rng.choice((100, 200, 300, 410, None)),
                    "Last Audit": (BASE_TIME.date() + timedelta(days=rng.randrange(500))
                                   if rng.random() < 0.4 else None),
                },
                created_at=created, updated_at=updated))

    def contacts(self, count: int) -> dict[int, list[int]]:
        rng, ds = self.rng, self.ds
        company_ids = ds._ids["companies"]
        by_company: dict[int, list[int]] = {}
        for _ in range(count):
            company = ds.companies[rng.choice(company_ids)] if company_ids else None
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            website = company.website if company is not None else None
            domain = (website or "").removeprefix("www.") or "mail.example.com"
            local = f"{first}.{last}".lower().replace("'", "")
            created, updated = self.stamps()
            place = self.address()
            ds._insert("contacts", Contact(
                company_id=company.id if company else None,
                first_name=first, last_name=last,
                type=rng.choice(CONTACT_TYPES),
                title=rng.choice(TITLES) if rng.random() < 0.8 else None,
                email=f"{local}@{domain}" if rng.random() < 0.92 else None,
                phone=self.phone() if rng.random() < 0.75 else None,
                active=rng.random() > 0.07,
                custom_fields={
                    "Preferred Channel": rng.choice(("Email", "Phone", "Teams", None)),
                    "VIP": rng.random() < 0.1,
                    "Extension": rng.randint(100, 899) if rng.random() < 0.5 else None,
                },
                line1=place["line1"], line2=place["line2"], city=place["city"],
                region=place["region"], postal_code=place["postal_code"], country=place["country"],
                created_at=created, updated_at=updated))
            if company is not None:
                by_company.setdefault(company.id, []).append(ds._ids["contacts"][-1])
        return by_company

    def tickets(self, count: int, contacts_by_company: dict[int, list[int]]) -> None:
        rng, ds = self.rng, self.ds
        company_ids = ds._ids["companies"]
        board_ids = ds._ids["boards"]
        priority_ids = ds._ids["priorities"]
        if not board_ids:
            return
        for _ in range(count):
            company_id = rng.choice(company_ids) if company_ids else None
            board_id = rng.choice(board_ids)
            status = ds.ticket_statuses[rng.choice(ds.children("ticket_statuses", board_id))]
            candidates = contacts_by_company.get(company_id or 0, [])
            contact_id = rng.choice(candidates) if candidates and rng.random() < 0.85 else None
            contact = ds.contacts.get(contact_id or 0)
            summary = rng.choice(_SUMMARIES).format(
                floor=rng.choice(_FLOORS),
                first=contact.first_name if contact else rng.choice(_FIRST),
                last=contact.last_name if contact else rng.choice(_LAST),
            )
            created, updated = self.stamps()
            ds._insert("tickets", Ticket(
                summary=summary, company_id=company_id, board_id=board_id, status_id=status.id,
                priority_id=rng.choices(priority_ids, (1, 3, 10, 4))[0], contact_id=contact_id,
                created_at=created, updated_at=updated, closed=status.closed))
