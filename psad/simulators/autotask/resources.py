"""The entities the simulator serves and the fields a ``filter`` may name on each."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from psad.simulators.autotask.config import PURCHASE_DATE_UDF, Wire
from psad.simulators.autotask.fields import ENTITY_FIELDS
from psad.simulators.autotask.query import Field
from psad.simulators.autotask.wire import (
    Renderer,
    Tables,
    picklist_value,
    status_ids,
    ticket_number,
    udf_definitions,
)
from psad.simulators.dataset import TICKET_STATUSES, Company, CustomFieldDef, Dataset, Ticket


BLANK_RECORDS: Final = {entity: dict.fromkeys(names) for entity, names in ENTITY_FIELDS.items()}
"""Every field of an entity, empty: a record answers them all, ``null`` when it has no value."""


def singular(entity: str) -> str:
    """The entity's own name, as ``entityInformation`` gives it: Companies → Company."""
    if entity.endswith("ies"):
        return entity[:-3] + "y"
    return entity[:-1] if entity.endswith("s") else entity


@dataclass(frozen=True, slots=True)
class Resource:
    """One Autotask entity: where its records come from and how they render."""

    name: str
    rows: Callable[[], tuple[Sequence[int], Mapping[int, Any]]]
    render: Callable[[Any], Wire]
    fields: Mapping[str, Field]
    overrides: str | None = None
    """The dataset entity whose wire overrides apply."""
    udf_defs: Callable[[], list[Wire]] | None = None
    udf: Callable[[str], Field] | None = None
    picklists: Callable[[], dict[str, list[Wire]]] | None = None


def _fields(**kinds: tuple[Callable[[Any], Any], str]) -> dict[str, Field]:
    return {name.lower(): Field(get, kind, name) for name, (get, kind) in kinds.items()}


def _dict_rows(rows: list[Wire]) -> tuple[list[int], dict[int, Wire]]:
    table = {r["id"]: r for r in rows}
    return sorted(table), table


def _dict_fields(sample: Mapping[str, Any]) -> dict[str, Field]:
    def kind(value: Any) -> str:
        if isinstance(value, bool):
            return "bool"
        return "int" if isinstance(value, int) else "str"

    def getter(key: str) -> Callable[[Wire], Any]:
        return lambda r: r.get(key)

    return {k.lower(): Field(getter(k), kind(v), k) for k, v in sample.items()}


def _udf_field(r: Any, name: str) -> str | None:
    value = r.custom_fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return value.isoformat() if isinstance(value, date) else str(value)


def resources(ds: Dataset, tables: Tables) -> dict[str, Resource]:
    r = Renderer(ds, tables)

    def dataset_rows(entity: str) -> Callable[[], tuple[Sequence[int], Mapping[int, Any]]]:
        return lambda: (ds.ids(entity), ds.table(entity))

    def udf(name: str) -> Field:
        return Field(lambda rec: _udf_field(rec, name), "str")

    def no_udf(name: str) -> Field:
        return Field(lambda rec: None, "str")

    def company_active(c: Company) -> bool:
        status = ds.company_statuses.get(c.status_id) if c.status_id is not None else None
        return not (status is not None and status.inactive)

    def status_value(t: Ticket) -> int | None:
        status = ds.ticket_statuses.get(t.status_id) if t.status_id is not None else None
        return None if status is None else statuses_cache["value"].get(status.name)

    def ticket_picklists() -> dict[str, list[Wire]]:
        closed = {name for name, is_closed in TICKET_STATUSES if is_closed}
        statuses = []
        for name, value in status_ids(ds).items():
            record = ds.ticket_statuses[value]
            statuses.append(picklist_value(value, name, sort_order=record.sort_order,
                                           default=record.sort_order == 0,
                                           system=name in closed))
        return {
            "status": statuses,
            "priority": [picklist_value(p.id, p.name, sort_order=p.sort_order,
                                        default=p.sort_order == 3)
                         for p in ds.records("priorities")],
            "queueID": [picklist_value(b.id, b.name, sort_order=n, active=b.active)
                        for n, b in enumerate(ds.records("boards"))],
            "ticketType": [picklist_value(1, "Service Request", sort_order=1, default=True,
                                          system=True),
                           picklist_value(2, "Incident", sort_order=2, system=True)],
            "source": [picklist_value(2, "Email", sort_order=1),
                       picklist_value(4, "Phone", sort_order=2, default=True)],
        }

    def company_picklists() -> dict[str, list[Wire]]:
        return {"companyType": [picklist_value(t.id, t.name, sort_order=t.id, default=t.id == 1,
                                               system=True)
                                for t in ds.records("company_types")]}

    statuses_cache = {"value": status_ids(ds)}

    def render_ticket(t: Ticket) -> Wire:
        return r.ticket(t, statuses_cache["value"])

    def ticket_rows() -> tuple[Sequence[int], Mapping[int, Any]]:
        statuses_cache["value"] = status_ids(ds)
        return ds.ids("tickets"), ds.table("tickets")

    countries = tables.country_rows()[0]
    ci_types = tables.ci_type_rows()[0]
    products = tables.product_rows()[0]

    return {res.name.lower(): res for res in (
        Resource("Companies", dataset_rows("companies"), r.company, _fields(
            id=(lambda c: c.id, "int"), companyName=(lambda c: c.name, "str"),
            companyNumber=(lambda c: c.identifier, "str"), webAddress=(lambda c: c.website, "str"),
            isActive=(company_active, "bool"),
            companyType=(lambda c: c.type_ids[0] if c.type_ids else None, "int"),
            phone=(lambda c: c.phone, "str"), city=(lambda c: c.city, "str"),
            state=(lambda c: c.region_code, "str"), postalCode=(lambda c: c.postal_code, "str"),
            createDate=(lambda c: c.created_at, "datetime"),
            lastActivityDate=(lambda c: c.updated_at, "datetime"),
            lastTrackedModifiedDateTime=(lambda c: c.updated_at, "datetime")),
            overrides="companies", udf_defs=lambda: [], udf=no_udf,
            picklists=company_picklists),
        Resource("CompanyLocations", dataset_rows("sites"), r.location, _fields(
            id=(lambda s: s.id, "int"), companyID=(lambda s: s.company_id, "int"),
            name=(lambda s: s.name, "str"), isActive=(lambda s: s.active, "bool"),
            isPrimary=(lambda s: s.primary, "bool"), city=(lambda s: s.city, "str"),
            state=(lambda s: s.region, "str"), postalCode=(lambda s: s.postal_code, "str")),
            overrides="sites"),
        Resource("ConfigurationItems", dataset_rows("assets"), r.configuration_item, _fields(
            id=(lambda a: a.id, "int"), companyID=(lambda a: a.company_id, "int"),
            referenceTitle=(lambda a: a.name, "str"),
            serialNumber=(lambda a: a.serial_number, "str"),
            isActive=(lambda a: a.status not in ("Inactive", "Retired"), "bool"),
            configurationItemType=(lambda a: tables.ci_types.id(a.type), "int"),
            productID=(lambda a: tables.product_id(a.manufacturer, a.type), "int"),
            notes=(lambda a: a.notes, "str"),
            rmmDeviceAuditOperatingSystem=(lambda a: a.os_type, "str"),
            createDate=(lambda a: a.created_at, "datetime"),
            lastModifiedTime=(lambda a: a.updated_at, "datetime")),
            overrides="assets",
            udf_defs=lambda: udf_definitions(
                (*ds.asset_fields, CustomFieldDef(0, PURCHASE_DATE_UDF, "Date"))),
            udf=udf),
        Resource("Contacts", dataset_rows("contacts"), r.contact, _fields(
            id=(lambda c: c.id, "int"), companyID=(lambda c: c.company_id, "int"),
            firstName=(lambda c: c.first_name, "str"), lastName=(lambda c: c.last_name, "str"),
            emailAddress=(lambda c: c.email, "str"), title=(lambda c: c.title, "str"),
            phone=(lambda c: c.phone, "str"), isActive=(lambda c: int(c.active), "int"),
            createDate=(lambda c: c.created_at, "datetime"),
            lastActivityDate=(lambda c: c.updated_at, "datetime"),
            lastModifiedDate=(lambda c: c.updated_at, "datetime")),
            overrides="contacts", udf_defs=lambda: udf_definitions(ds.contact_fields),
            udf=udf),
        Resource("Tickets", ticket_rows, render_ticket, _fields(
            id=(lambda t: t.id, "int"), companyID=(lambda t: t.company_id, "int"),
            contactID=(lambda t: t.contact_id, "int"), queueID=(lambda t: t.board_id, "int"),
            status=(status_value, "int"), priority=(lambda t: t.priority_id, "int"),
            title=(lambda t: t.summary, "str"), ticketNumber=(ticket_number, "str"),
            createDate=(lambda t: t.created_at, "datetime"),
            completedDate=(lambda t: t.updated_at if t.closed else None, "datetime"),
            lastActivityDate=(lambda t: t.updated_at, "datetime"),
            lastTrackedModificationDateTime=(lambda t: t.updated_at, "datetime")),
            overrides="tickets", udf_defs=lambda: [], udf=no_udf,
            picklists=ticket_picklists),
        Resource("Countries", lambda: _dict_rows(tables.country_rows()), dict,
                 _dict_fields(countries)),
        Resource("ConfigurationItemTypes", lambda: _dict_rows(tables.ci_type_rows()), dict,
                 _dict_fields(ci_types)),
        Resource("Products", lambda: _dict_rows(tables.product_rows()), dict,
                 _dict_fields(products)),
    )}
