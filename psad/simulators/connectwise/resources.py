"""The collections the simulator serves: path, renderer and the fields ``conditions``,
``childConditions`` and ``customFieldConditions`` may name."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Final, NamedTuple

from psad.simulators import stable_id
from psad.simulators.connectwise.conditions import Field
from psad.simulators.connectwise.config import Wire
from psad.simulators.connectwise.wire import (
    ASSET_STATUS_IDS,
    ASSET_TYPE_IDS,
    CONTACT_TYPE_IDS,
    Lookup,
    lookups,
    render_board,
    render_board_status,
    render_company,
    render_company_status,
    render_company_type,
    render_configuration,
    render_configuration_status,
    render_configuration_type,
    render_contact,
    render_contact_type,
    render_priority,
    render_site,
    render_ticket,
)
from psad.simulators.dataset import Company, CustomFieldDef, CustomValue, Dataset


def _midnight(value: date | None) -> datetime | None:
    return None if value is None else datetime.combine(value, time(), UTC)


def _common(*, created: bool = False) -> dict[str, Field]:
    fields = {
        "id": Field(lambda r: r.id, "int"),
        "lastUpdated": Field(lambda r: r.updated_at, "datetime"),
        "_info/lastUpdated": Field(lambda r: r.updated_at, "datetime"),
    }
    if created:
        fields["dateEntered"] = Field(lambda r: r.created_at, "datetime")
        fields["_info/dateEntered"] = Field(lambda r: r.created_at, "datetime")
    return fields


def _company_fields(ds: Dataset) -> dict[str, Field]:
    def company(r: Any) -> Company | None:
        return None if r.company_id is None else ds.companies.get(r.company_id)

    return {
        "company/id": Field(lambda r: r.company_id, "int"),
        "company/name": Field(lambda r: (c := company(r)) and c.name, "str"),
        "company/identifier": Field(lambda r: (c := company(r)) and c.identifier, "str"),
    }


class CustomEntry(NamedTuple):
    """One custom field of a record, as ``customFieldConditions`` sees it."""

    id: int
    caption: str
    type: str
    value: CustomValue


CUSTOM_ENTRY_FIELDS: Final = {
    "id": Field(lambda e: e.id, "int"),
    "caption": Field(lambda e: e.caption, "str"),
    "type": Field(lambda e: e.type, "str"),
    "value": Field(lambda e: _midnight(e.value) if isinstance(e.value, date) else e.value, "any"),
}


def _custom_entries(defs: Sequence[CustomFieldDef]) -> Callable[[Any], list[CustomEntry]]:
    def entries(r: Any) -> list[CustomEntry]:
        return [CustomEntry(d.id, d.caption, d.type, r.custom_fields.get(d.caption)) for d in defs]
    return entries


def _children(get: Callable[[Any], Any], kind: str) -> Field:
    """A ``childConditions`` field over a single-valued attribute (absent: no child)."""
    return Field(lambda r: () if (v := get(r)) is None else (v,), kind)


# --- resources ------------------------------------------------------------------------------


Renderer = Callable[[Dataset, Any, str], Wire]


@dataclass(frozen=True, slots=True)
class Resource:
    path: str
    entity: str
    label: str
    render: Renderer
    fields: Mapping[str, Field]
    parent: str | None = None
    """Dataset entity of the parent in the path (companies for sites)."""
    parent_attr: str | None = None
    parent_label: str = ""
    child_fields: Mapping[str, Field] | None = None
    """``childConditions`` fields; each getter answers the values of all the record's children."""
    custom_values: Callable[[Any], Sequence[CustomEntry]] | None = None
    """The record's custom fields, for ``customFieldConditions``."""
    static: Mapping[int, Lookup] | None = None
    """Rows served instead of a dataset table (set-up lists kept only by name)."""


def resources(ds: Dataset) -> tuple[Resource, ...]:
    def text_field(attr: str = "name") -> Field:
        return Field(lambda r: getattr(r, attr), "str")

    def looked_up(table: Mapping[int, Any], attr: str) -> Field:
        """The name of the record that ``attr`` points at."""
        def get(r: Any) -> str | None:
            target = table.get(getattr(r, attr))
            return None if target is None else target.name
        return Field(get, "str")

    return (
        Resource("/company/companies/statuses", "company_statuses", "CompanyStatus",
                 render_company_status, {
                     **_common(), "name": text_field(),
                     "defaultFlag": Field(lambda r: r.is_default, "bool"),
                     "inactiveFlag": Field(lambda r: r.inactive, "bool")}),
        Resource("/company/companies/types", "company_types", "CompanyType", render_company_type,
                 {**_common(), "name": text_field()}),
        Resource("/company/companies", "companies", "Company", render_company, {
            **_common(created=True), "name": text_field(), "identifier": text_field("identifier"),
            "website": text_field("website"), "city": text_field("city"),
            "state": text_field("region_code"), "zip": text_field("postal_code"),
            "phoneNumber": text_field("phone"),
            "deletedFlag": Field(lambda r: False, "bool"),
            "status/id": Field(lambda r: r.status_id, "int"),
            "status/name": looked_up(ds.company_statuses, "status_id")},
                 child_fields={
                     "types/id": Field(lambda r: r.type_ids, "int"),
                     "types/name": Field(lambda r: tuple(
                         t.name for t in map(ds.company_types.get, r.type_ids) if t is not None), "str")}),
        Resource("/company/companies/{parent}/sites", "sites", "CompanySite", render_site, {
            **_common(created=True), "name": text_field(), "city": text_field("city"),
            "zip": text_field("postal_code"),
            "inactiveFlag": Field(lambda r: not r.active, "bool"),
            "primaryAddressFlag": Field(lambda r: r.primary, "bool"),
            **_company_fields(ds)}, parent="companies", parent_attr="company_id", parent_label="Company"),
        Resource("/company/configurations", "assets", "Configuration", render_configuration, {
            **_common(created=True), "name": text_field(),
            "serialNumber": text_field("serial_number"), "osType": text_field("os_type"),
            "notes": text_field("notes"),
            "type/name": text_field("type"), "status/name": text_field("status"),
            "manufacturer/name": text_field("manufacturer"),
            "type/id": Field(lambda r: r.type and (ASSET_TYPE_IDS.get(r.type) or stable_id(r.type)), "int"),
            "status/id": Field(
                lambda r: r.status and (ASSET_STATUS_IDS.get(r.status) or stable_id(r.status)), "int"),
            "activeFlag": Field(lambda r: r.status not in ("Inactive", "Retired"), "bool"),
            "purchaseDate": Field(lambda r: _midnight(r.purchase_date), "datetime"),
            "warrantyExpirationDate": Field(lambda r: _midnight(r.warranty_expiration), "datetime"),
            **_company_fields(ds)}, custom_values=_custom_entries(ds.asset_fields)),
        Resource("/company/configurations/types", "configuration_types", "ConfigurationType",
                 render_configuration_type, {**_common(), "name": text_field()},
                 static=lookups(ASSET_TYPE_IDS)),
        Resource("/company/configurations/statuses", "configuration_statuses", "ConfigurationStatus",
                 render_configuration_status, {**_common(), "description": text_field()},
                 static=lookups(ASSET_STATUS_IDS)),
        Resource("/company/contacts", "contacts", "Contact", render_contact, {
            **_common(created=True), "firstName": text_field("first_name"),
            "lastName": text_field("last_name"), "title": text_field("title"),
            "city": text_field("city"),
            "inactiveFlag": Field(lambda r: not r.active, "bool"),
            "types/name": text_field("type"),
            **_company_fields(ds)},
                 child_fields={
                     "types/name": _children(lambda r: r.type, "str"),
                     "communicationItems/value": Field(lambda r: tuple(
                         v for v in (r.email, r.phone) if v), "str"),
                     "communicationItems/communicationType": Field(lambda r: tuple(
                         kind for kind, v in (("Email", r.email), ("Phone", r.phone)) if v), "str")},
                 custom_values=_custom_entries(ds.contact_fields)),
        Resource("/company/contacts/types", "contact_types", "ContactType", render_contact_type,
                 {**_common(), "description": text_field()}, static=lookups(CONTACT_TYPE_IDS)),
        Resource("/service/boards", "boards", "Board", render_board, {
            **_common(), "name": text_field(), "inactiveFlag": Field(lambda r: not r.active, "bool")}),
        Resource("/service/boards/{parent}/statuses", "ticket_statuses", "BoardStatus",
                 render_board_status, {
                     **_common(), "name": text_field(),
                     "closedStatus": Field(lambda r: r.closed, "bool"),
                     "inactive": Field(lambda r: False, "bool"),
                     "sortOrder": Field(lambda r: r.sort_order, "int"),
                     "board/id": Field(lambda r: r.board_id, "int")},
                 parent="boards", parent_attr="board_id", parent_label="Board"),
        Resource("/service/priorities", "priorities", "Priority", render_priority, {
            **_common(), "name": text_field(), "sortOrder": Field(lambda r: r.sort_order, "int")}),
        Resource("/service/tickets", "tickets", "Ticket", render_ticket, {
            **_common(created=True), "summary": text_field("summary"),
            "closedFlag": Field(lambda r: r.closed, "bool"),
            "board/id": Field(lambda r: r.board_id, "int"),
            "board/name": looked_up(ds.boards, "board_id"),
            "status/id": Field(lambda r: r.status_id, "int"),
            "status/name": looked_up(ds.ticket_statuses, "status_id"),
            "priority/id": Field(lambda r: r.priority_id, "int"),
            "priority/name": looked_up(ds.priorities, "priority_id"),
            "contact/id": Field(lambda r: r.contact_id, "int"),
            **_company_fields(ds)}),
    )
