"""ConnectWise PSA (Manage) REST 3.0 simulator over the shared :class:`Dataset`.

``create_app(dataset)`` serves ``/{codebase}apis/3.0/…`` (companies, statuses,
types, sites per company, configurations, contacts, boards and their statuses,
priorities, tickets, ``/system/info``), ``/login/companyinfo/{companyId}`` and
the shared ``/_sim/`` control plane.

Confirmed with public sources (see ``shared/psa-apis.md`` for more):

- Auth is Basic ``{companyId}+{publicKey}:{privateKey}`` plus a ``clientId``
  header; a missing clientId is refused with a 400 that names ``clientId``
  (mspvectis ConnectWise guide). 401 bodies use ``code: "Unauthorized"``
  (christaylorcodes/ConnectWiseManageAPI ``Invoke-CWMWebRequest.ps1``).
- Error JSON is ``{"code", "message", "errors": [{"code", "message",
  "resource", "field"}]}`` with ``InvalidObject`` for 400s (christaylorcodes
  issue #30, xyte ConnectWise KB); 5xx bodies use ``code: "ConnectWiseApi"``
  (christaylorcodes issue #1).
- ``Link`` looks like ``<https://host/v4_6_release/apis/3.0/company/companies?pageSize=1000&page=2>;
  rel="next", …`` (thelazyadministrator.com, 2024); ``page`` is the last query
  parameter because pyconnectwise parses ``page=(\\d+)>; rel="…"``.
- ``pageSize`` has a hard maximum of 1,000 records (ConnectWise "PSA
  Pagination" guide; django-connectwise ``CW_RESPONSE_MAX_RECORDS``).
- Forward-only paging: request header ``pagination-type: forward-only``;
  ``pageId`` acts as ``id > pageId``; the client follows the first URL in
  ``Link`` and stops when it is empty (christaylorcodes ``Invoke-CWMAllResult.ps1``,
  which also requires the header to exist on the first page).
- Conditions: ``= != < <= > >=``, ``contains``, ``like`` (``%`` wildcard),
  ``in``, ``not``; strings double-quoted, datetimes in ``[…]``, ``and``/``or``,
  parentheses; keywords in either case (pyconnectwise emits upper case).
- ``/login/companyinfo`` answers ``null`` for an unknown company (django-connectwise).
- Cloud throttling is Cloudflare's 429 with ``Retry-After`` (pyconnectwise PR #41).
- Every GET takes ``conditions``, ``childConditions``, ``customFieldConditions``,
  ``orderBy``, ``fields``, ``page``, ``pageSize``, ``pageId`` (the vendor's OpenAPI
  document, 2025.1); their names bind case-insensitively (ASP.NET model binding) and a
  list path answers with a trailing slash too.
- Records follow the vendor's schemas: the full Ticket model (``customerUpdatedFlag``,
  ``severity``, ``impact``, ``location``, ``department``…), a Board's required
  ``location`` and ``department``; a value a record lacks is left out, not sent as
  ``null`` (recorded sandbox responses in the Rapid7 InsightConnect plugin docs omit such
  keys, down to an unset custom field's ``value``).
- ``/company/contacts/types`` and ``/company/configurations/types|statuses`` list the
  names records carry (ContactType and ConfigurationStatus name them ``description``).
- ``Accept: application/vnd.connectwise.com+json; version=YYYY.N`` pins a model version:
  a version gets the newest model at or before it, from 2019.1 on (vendor guide "PSA
  Versioning"); ``api-current-version`` names the current one.

Inferred: a ``pageSize`` over 1000 is clamped rather than refused; the default
page size is 25; ``Link`` is always sent, empty when there is no other page
(pyconnectwise's ``PaginatedResponse`` fails on a missing header); the exact
400 body for a bad ``conditions`` or a missing ``clientId``; the 429 body;
sites of an unknown company answer 404; ``orderBy`` is ignored in forward-only
mode; string comparisons are case-insensitive (SQL Server's default collation);
``childConditions`` hold when one child of the record matches each comparison and
``customFieldConditions`` when one custom field entry matches the whole expression
(``caption = "X" and value = "Y"``), their errors a 400 naming the parameter; a version
before 2019.1 or not of the form ``YYYY.N`` answers 400 naming ``Accept`` (the guide does
not say what an unservable version gets).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from bisect import bisect_right
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Final, NamedTuple
from urllib.parse import quote, urlencode

from aiohttp import web
from aiohttp.typedefs import Middleware

from psad.simulators import (
    FAULTS_KEY,
    add_control_routes,
    apply_overrides,
    name_ids,
    simulator_app,
    stable_id,
)
from psad.simulators.cw_conditions import (
    BadQuery,
    Field,
    any_child_matches,
    compile_filter,
    lookup_field,
    plan_conditions,
)
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
from psad.simulators.faults import Faults
from psad.simulators.id_plan import Plan, Predicate

DEFAULT_CLIENT_ID: Final = "5f3c0f0e-7d1a-4c6b-9a52-2e8f4b1d9c70"
DEFAULT_PAGE_SIZE: Final = 25
MAX_PAGE_SIZE: Final = 1000
VERSION_CODE: Final = "v2025.8"
VERSION_NUMBER: Final = "v4.6.2025080"
ACTOR: Final = "psadsim"
_dumps: Final = functools.partial(json.dumps, separators=(",", ":"), check_circular=False)

Wire = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CwConfig:
    company_id: str
    public_key: str
    private_key: str
    client_id: str
    codebase: str

    @property
    def api_prefix(self) -> str:
        return f"/{self.codebase}apis/3.0"


CONFIG_KEY = web.AppKey("psad.simulators.connectwise.config", CwConfig)


# --- errors -----------------------------------------------------------------------------

_CODES: Final = {400: "InvalidObject", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
                 405: "MethodNotAllowed", 429: "TooManyRequests"}


def cw_error_body(status: int, message: str) -> dict[str, Any]:
    """A ConnectWise error body for ``status`` (also used for injected faults)."""
    return {"code": _CODES.get(status, "ConnectWiseApi"), "message": message}


def cw_error(status: int, message: str, *, errors: Sequence[Mapping[str, str]] = ()) -> web.Response:
    body = cw_error_body(status, message)
    if errors:
        body["errors"] = list(errors)
    return _json(body, status=status)




def _json(body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """Compact JSON, as ConnectWise sends it."""
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def _not_found(label: str, record_id: object) -> web.Response:
    return cw_error(404, f"{label} with id {record_id} not found")


# --- wire rendering ---------------------------------------------------------------------


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


# --- condition fields ---------------------------------------------------------------------




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


# --- query handling -------------------------------------------------------------------------


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadQuery(f"{name} must be an integer", field=name) from None


def filter_plan(request: web.Request, resource: Resource) -> Plan:
    """``conditions`` as an id range and a residual, narrowed by ``childConditions`` and
    ``customFieldConditions`` (a record matches when one of its custom fields does)."""
    plan = plan_conditions(request.query.get("conditions"), resource.fields)
    extra: list[Predicate] = []
    child = request.query.get("childConditions")
    if child is not None and child.strip():
        extra.append(any_child_matches(child, resource.child_fields or {}))
    custom = request.query.get("customFieldConditions")
    if custom is not None and custom.strip():
        matches = compile_filter(custom, CUSTOM_ENTRY_FIELDS, "customFieldConditions")
        values = resource.custom_values or (lambda r: ())
        extra.append(lambda r: any(matches(e) for e in values(r)))
    if not extra:
        return plan
    parts = extra if plan.residual is None else [plan.residual, *extra]
    return Plan(plan.low, plan.high, parts[0] if len(parts) == 1 else lambda r: all(p(r) for p in parts))


def page_size(request: web.Request) -> int:
    size = _int_param(request, "pageSize", DEFAULT_PAGE_SIZE)
    return DEFAULT_PAGE_SIZE if size < 1 else min(size, MAX_PAGE_SIZE)


class SortKey(NamedTuple):
    name: str
    field: Field
    descending: bool


def order_keys(text: str | None, fields: Mapping[str, Field]) -> list[SortKey]:
    """``orderBy`` as sort keys; empty means id ascending."""
    if text is None or not text.strip():
        return []
    keys = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise BadQuery(f"Invalid orderBy '{part.strip()}'", field="orderBy")
        name, found = lookup_field(fields, words[0], "orderBy")
        keys.append(SortKey(name, found, len(words) == 2 and words[1].lower() == "desc"))
    return keys


def _sort(ids: list[int], table: Mapping[int, Any], keys: list[SortKey]) -> list[int]:
    for _, (get, kind), descending in reversed(keys):
        def key(i: int, get: Callable[[Any], Any] = get, kind: str = kind) -> tuple[bool, Any]:
            value = get(table[i])
            if value is None:
                return (not descending, 0)
            return (descending, value.casefold() if kind == "str" else value)
        ids.sort(key=key, reverse=descending)
    return ids


class Selection(NamedTuple):
    """Matching ids as ``ids[start:stop]`` (no copy for plain id ranges)."""

    ids: Sequence[int]
    start: int
    stop: int
    reverse: bool = False

    @property
    def total(self) -> int:
        return self.stop - self.start

    def page(self, offset: int, size: int) -> Sequence[int]:
        if self.reverse:
            hi = max(self.stop - offset, self.start)
            return self.ids[max(hi - size, self.start):hi][::-1]
        lo = min(self.start + offset, self.stop)
        return self.ids[lo:min(lo + size, self.stop)]


def select(table: Mapping[int, Any], ids: Sequence[int], plan: Plan, keys: list[SortKey]) -> Selection:
    start, stop = plan.bounds(ids)
    by_id = not keys or (len(keys) == 1 and keys[0].name == "id")
    if plan.residual is None and by_id:
        return Selection(ids, start, stop, reverse=bool(keys) and keys[0].descending)
    residual = plan.residual
    chosen = [i for i in ids[start:stop] if residual(table[i])] if residual else list(ids[start:stop])
    if keys:
        chosen = _sort(chosen, table, keys)
    return Selection(chosen, 0, len(chosen))


def forward_page(table: Mapping[int, Any], ids: Sequence[int], plan: Plan, after: int,
                 size: int) -> tuple[list[int], bool]:
    """Up to ``size`` matching ids above ``after``, and whether more follow."""
    start, stop = plan.bounds(ids)
    start = max(start, bisect_right(ids, after))
    if plan.residual is None:
        return list(ids[start:min(start + size, stop)]), start + size < stop
    found: list[int] = []
    for position in range(start, stop):
        record_id = ids[position]
        if plan.residual(table[record_id]):
            if len(found) == size:
                return found, True
            found.append(record_id)
    return found, False


def _url(request: web.Request, **last: int) -> str:
    """This request's URL with ``page``/``pageId`` dropped and ``last`` appended at the end."""
    pairs = [(k, v) for k, v in request.query.items() if k.lower() not in ("page", "pageid")]
    pairs.extend((k, str(v)) for k, v in last.items())
    return f"{request.url.with_query(None)}?{urlencode(pairs, quote_via=quote)}"


def link_header(request: web.Request, page: int, last_page: int) -> str:
    rels = []
    if page > 1:
        rels.append((1, "first"))
        rels.append((min(page - 1, max(last_page, 1)), "prev"))
    if page < last_page:
        rels.append((page + 1, "next"))
        rels.append((last_page, "last"))
    return ", ".join(f'<{_url(request, page=n)}>; rel="{rel}"' for n, rel in rels)


def fields_tree(text: str | None) -> dict[str, Any] | None:
    if text is None or not text.strip():
        return None
    tree: dict[str, Any] = {}
    for path in text.split(","):
        node = tree
        parts = [p.strip() for p in path.strip().split("/") if p.strip()]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if parts:
            node[parts[-1]] = None
    return tree


def project(wire: Mapping[str, Any], tree: Mapping[str, Any]) -> Wire:
    out: Wire = {}
    for key, sub in tree.items():
        if key not in wire:
            continue
        value = wire[key]
        if sub is None or value is None:
            out[key] = value
        elif isinstance(value, dict):
            out[key] = project(value, sub)
        elif isinstance(value, list):
            out[key] = [project(v, sub) if isinstance(v, dict) else v for v in value]
    return out


class Api:
    """The request handlers of one app; everything reads the app's dataset."""

    def __init__(self, ds: Dataset, config: CwConfig) -> None:
        self.ds = ds
        self.config = config

    def base(self, request: web.Request) -> str:
        return f"{request.scheme}://{request.host}{self.config.api_prefix}"

    def wire(self, resource: Resource, record: Any, base: str, tree: Mapping[str, Any] | None) -> Wire:
        wire = omit_absent(resource.render(self.ds, record, base))
        overrides = None if resource.static is not None else self.ds.overrides(resource.entity, record.id)
        if overrides:
            wire = apply_overrides(wire, overrides)
        return wire if tree is None else project(wire, tree)

    def table(self, resource: Resource) -> Mapping[int, Any]:
        return self.ds.table(resource.entity) if resource.static is None else resource.static

    def candidates(self, resource: Resource, request: web.Request) -> Sequence[int] | web.Response:
        if resource.static is not None:
            return list(resource.static)
        if resource.parent is None:
            return self.ds.ids(resource.entity)
        parent_id = int(request.match_info["parent"])
        if self.ds.get(resource.parent, parent_id) is None:
            return _not_found(resource.parent_label, parent_id)
        return self.ds.children(resource.entity, parent_id)

    def list_handler(self, resource: Resource) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            ids = self.candidates(resource, request)
            if isinstance(ids, web.Response):
                return ids
            plan = filter_plan(request, resource)
            size = page_size(request)
            tree = fields_tree(request.query.get("fields"))
            table = self.table(resource)
            page_ids: Sequence[int]
            if request.headers.get("pagination-type", "").lower() == "forward-only":
                after = _int_param(request, "pageId", 0)
                page_ids, more = forward_page(table, ids, plan, after, size)
                link = f'<{_url(request, pageId=page_ids[-1])}>; rel="next"' if more else ""
            else:
                keys = order_keys(request.query.get("orderBy"), resource.fields)
                selection = select(table, ids, plan, keys)
                page = max(_int_param(request, "page", 1), 1)
                page_ids = selection.page((page - 1) * size, size)
                link = link_header(request, page, -(-selection.total // size))
            base = self.base(request)
            body = [self.wire(resource, table[i], base, tree) for i in page_ids]
            return _json(body, headers={"Link": link})

        return handle

    def count_handler(self, resource: Resource) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            ids = self.candidates(resource, request)
            if isinstance(ids, web.Response):
                return ids
            plan = filter_plan(request, resource)
            selection = select(self.table(resource), ids, plan, [])
            return _json({"count": selection.total})

        return handle

    def get_handler(self, resource: Resource) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            record_id = int(request.match_info["id"])
            record = self.table(resource).get(record_id)
            if record is not None and resource.parent_attr is not None:
                if getattr(record, resource.parent_attr) != int(request.match_info["parent"]):
                    record = None
            if record is None:
                return _not_found(resource.label, record_id)
            tree = fields_tree(request.query.get("fields"))
            return _json(self.wire(resource, record, self.base(request), tree))

        return handle

    async def system_info(self, request: web.Request) -> web.Response:
        return _json({"version": VERSION_NUMBER, "isCloud": True,
                                  "serverTimeZone": "Eastern Standard Time", "cloudRegion": "NA"})

    async def company_info(self, request: web.Request) -> web.Response:
        if request.match_info["companyId"].casefold() != self.config.company_id.casefold():
            return _json(None)
        return _json({
            "CompanyName": self.config.company_id,
            "Codebase": self.config.codebase,
            "VersionCode": VERSION_CODE,
            "VersionNumber": VERSION_NUMBER,
            "CompanyID": self.config.company_id,
            "IsCloud": True,
            "SiteUrl": request.host,
        })


# --- auth and errors ------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def check_auth(request: web.Request, config: CwConfig) -> web.Response | None:
    """The ConnectWise refusal for this request's credentials, or None if they pass."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return cw_error(401, "Authentication is required: send Basic companyId+publicKey:privateKey")
    try:
        user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return cw_error(401, "The Authorization header is not valid Basic credentials")
    company, _, public_key = user.partition("+")
    if (company.casefold() != config.company_id.casefold() or public_key != config.public_key
            or password != config.private_key):
        return cw_error(401, "Incorrect company, public key or private key")
    client_id = request.headers.get("clientId", "")
    if not client_id:
        return cw_error(400, "The clientId header is required", errors=[{
            "code": "MissingRequiredField", "message": "clientId is required",
            "resource": "request", "field": "clientId"}])
    if client_id.casefold() != config.client_id.casefold():
        return cw_error(400, "The clientId is not registered", errors=[{
            "code": "InvalidField", "message": f"clientId {client_id} is not valid",
            "resource": "request", "field": "clientId"}])
    return None


QUERY_PARAMETERS: Final = ("conditions", "childConditions", "customFieldConditions", "orderBy",
                            "fields", "page", "pageSize", "pageId")
"""The common query parameters of every GET in the vendor's OpenAPI document."""
_CANONICAL_PARAMETERS: Final = {name.lower(): name for name in QUERY_PARAMETERS}


def canonical_query(request: web.Request) -> web.Request:
    """``request`` with the common query parameter names in the spec's case: the server binds
    them case-insensitively (ASP.NET), so ``pagesize`` is ``pageSize``."""
    pairs = [(_CANONICAL_PARAMETERS.get(k.lower(), k), v) for k, v in request.query.items()]
    if all(name == original for (name, _), original in zip(pairs, request.query.keys(), strict=True)):
        return request
    return request.clone(rel_url=request.rel_url.with_query(pairs))


FIRST_PINNED_VERSION: Final = (2019, 1)
"""Versions are pinned per PSA release from 2019.1 on (vendor guide "PSA Versioning")."""


def check_version(request: web.Request) -> web.Response | None:
    """The refusal for an ``Accept: application/vnd.connectwise.com+json; version=…`` this
    server cannot serve, or None. A release at or after 2019.1 gets the newest model at or
    before it (vendor guide: "if you pass 2019.1, 2019.2 or 2019.3, you will get model A");
    the simulator has one model, the current one."""
    for media in request.headers.getall("Accept", []):
        for item in media.split(","):
            kind, *params = (part.strip() for part in item.split(";"))
            if kind.lower() != "application/vnd.connectwise.com+json":
                continue
            for param in params:
                name, _, value = param.partition("=")
                if name.strip().lower() != "version":
                    continue
                year, _, release = value.strip().strip('"').partition(".")
                if not (year.isdigit() and release.isdigit()) or (
                        (int(year), int(release)) < FIRST_PINNED_VERSION):
                    return cw_error(400, f"API version '{value.strip()}' is not supported", errors=[{
                        "code": "InvalidField", "message": "Unsupported API version",
                        "resource": "request", "field": "Accept"}])
    return None


def api_middleware(config: CwConfig) -> Middleware:
    @web.middleware
    async def connectwise(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(config.api_prefix + "/"):
            return await handler(request)
        refusal = check_auth(request, config) or check_version(request)
        if refusal is not None:
            return refusal
        request = canonical_query(request)
        try:
            response = await handler(request)
        except BadQuery as err:
            return cw_error(400, str(err), errors=[{
                "code": "InvalidField", "message": str(err), "resource": request.path.rsplit("/", 1)[-1],
                "field": err.field}])
        except web.HTTPNotFound:
            return cw_error(404, f"The resource {request.path} was not found")
        except web.HTTPMethodNotAllowed:
            return cw_error(405, f"{request.method} is not allowed on {request.path}")
        response.headers.setdefault("api-current-version", VERSION_CODE.lstrip("v"))
        return response

    return connectwise


# --- bundled requests (POST /system/bundles) ------------------------------------------------
#
# Confirmed (vendor OpenAPI 2025.1 ``BundlesAPI``: ``PostSystemBundles``,
# ``PostSystemBundlesCount``, both taking a ``BundleRequestsCollection`` and answering a
# ``BundleResultsCollection``; models ``BundleRequest``, ``ApiRequest``, ``FilterValues``,
# ``PageValues``, ``BundleResult``; the developer page "Bundled Requests"): the body is
# ``{"requests": [{sequenceNumber, resourceType, version, apiRequest: {parentId,
# grandParentId, filters: {conditions, orderBy, childconditions, customfieldconditions},
# page: {page, pageSize, pageId}, fields}}]}``; the answer is ``{"results": [...]}``, each
# result with ``sequenceNumber``, ``resourceType``, ``entities``, ``count``, ``version``,
# ``success``, ``statusCode`` and ``error`` (an ``ErrorResponseMessage``), the records
# wrapped with their status, and the HTTP status depends on the mix of outcomes. The
# document spells the names as above; the developer page's examples write the request's
# in PascalCase (``SequenceNumber``, ``ApiRequest``…).
#
# Inferred: the server binds request names case-insensitively (ASP.NET model binding, as
# for query parameter names; it is what lets both spellings above work), so this one does;
# the exact statuses (200 all succeeded, 207 mixed, the shared status when every
# sub-request failed the same way, else 400); ``count`` is the number of matching records
# (``/count``) or of entities returned (a list); a successful result leaves ``error`` out
# (like any value a record lacks); which resourceType names map to which collections.
# Unconfirmed: the size limit. Neither the OpenAPI document nor the readable
# part of the vendor page names a number, so ``BUNDLE_LIMIT`` is this simulator's choice,
# settable per app, and a bundle over it is refused whole with a 400.

BUNDLE_LIMIT: Final = 100
"""Sub-requests per bundle this simulator accepts (the vendor's number is unpublished)."""

_BUNDLE_RESOURCES: Final = {
    "site": "/company/companies/{parent}/sites",
    "companysite": "/company/companies/{parent}/sites",
    "company": "/company/companies",
    "configuration": "/company/configurations",
    "contact": "/company/contacts",
    "board": "/service/boards",
    "boardstatus": "/service/boards/{parent}/statuses",
    "priority": "/service/priorities",
    "ticket": "/service/tickets",
}


class _SubRequestFailed(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def add_bundle_routes(app: web.Application, api: Api, *, faults: Faults, limit: int) -> None:
    """``POST /system/bundles`` (lists) and ``/system/bundles/count``: one call to the
    rate limit and the request log, however many sub-requests it carries."""
    by_path = {r.path: r for r in resources(api.ds)}
    table = {name.casefold(): by_path[path] for name, path in _BUNDLE_RESOURCES.items()}
    prefix = api.config.api_prefix
    app.router.add_post(prefix + "/system/bundles",
                        functools.partial(_bundle, api, table, faults, limit, False))
    app.router.add_post(prefix + "/system/bundles/count",
                        functools.partial(_bundle, api, table, faults, limit, True))


async def _bundle(api: Api, table: Mapping[str, Resource], faults: Faults, limit: int,
                  count_only: bool, request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return cw_error(400, "The request body is not valid JSON")
    requests = _member(body, "requests")
    if not isinstance(requests, list) or not requests:
        return cw_error(400, "requests: a non-empty list of bundled requests is required",
                        errors=[{"code": "MissingRequiredField", "message": "requests is required",
                                 "resource": "bundles", "field": "requests"}])
    if len(requests) > limit:
        return cw_error(400, f"A bundle may carry at most {limit} requests, got {len(requests)}",
                        errors=[{"code": "InvalidField", "message": "too many requests",
                                 "resource": "bundles", "field": "requests"}])
    base = api.base(request)
    results = [_sub_result(api, table, faults, item, base, count_only) for item in requests]
    statuses = {r["statusCode"] for r in results}
    if all(r["success"] for r in results):
        status = 200
    elif any(r["success"] for r in results):
        status = 207
    else:
        status = statuses.pop() if len(statuses) == 1 else 400
    return _json({"results": results}, status=status)


def _member(obj: Any, name: str) -> Any:
    """``obj``'s member ``name`` matched case-insensitively (ASP.NET model binding), or None
    when ``obj`` is not an object or lacks it."""
    if not isinstance(obj, dict):
        return None
    wanted = name.casefold()
    return next((v for k, v in obj.items() if k.casefold() == wanted), None)


def _sub_result(api: Api, table: Mapping[str, Resource], faults: Faults, item: Any, base: str,
                count_only: bool) -> Wire:
    echoed = {name: _member(item, name) for name in ("sequenceNumber", "resourceType", "version")}
    result: Wire = {name: value for name, value in echoed.items() if value is not None}
    try:
        entities, count = _sub_read(api, table, faults, item, base, count_only)
    except _SubRequestFailed as err:
        return {**result, "entities": [], "count": 0, "success": False,
                "statusCode": err.status, "error": cw_error_body(err.status, str(err))}
    except BadQuery as err:
        return {**result, "entities": [], "count": 0, "success": False, "statusCode": 400,
                "error": {**cw_error_body(400, str(err)), "errors": [{
                    "code": "InvalidField", "message": str(err), "resource": "bundles",
                    "field": err.field}]}}
    return {**result, "entities": entities, "count": count, "success": True, "statusCode": 200}


def _sub_read(api: Api, table: Mapping[str, Resource], faults: Faults, item: Any,
              base: str, count_only: bool) -> tuple[list[Wire], int]:
    kind = _member(item, "resourceType")
    resource = table.get(kind.casefold()) if isinstance(kind, str) else None
    if resource is None:
        raise _SubRequestFailed(400, f"resourceType {kind!r} cannot be bundled")
    call = _member(item, "apiRequest") or {}
    if not isinstance(call, dict):
        raise _SubRequestFailed(400, "apiRequest must be an object")
    path = resource.path
    ids: Sequence[int]
    if resource.parent is None:
        ids = api.ds.ids(resource.entity)
    else:
        parent = _member(call, "parentId")
        if not isinstance(parent, int) or isinstance(parent, bool):
            raise _SubRequestFailed(400, f"apiRequest.parentId is required for {kind}")
        if api.ds.get(resource.parent, parent) is None:
            raise _SubRequestFailed(404, f"{resource.parent_label} with id {parent} not found")
        ids = api.ds.children(resource.entity, parent)
        path = path.replace("{parent}", str(parent))
    fault = faults.take("GET", api.config.api_prefix + path)
    if fault is not None and fault.kind == "status":
        raise _SubRequestFailed(fault.status, "Injected fault")
    conditions = _member(_member(call, "filters"), "conditions")
    plan = plan_conditions(conditions or None, resource.fields)
    records = api.ds.table(resource.entity)
    if count_only:
        return [], select(records, ids, plan, []).total
    page = _member(call, "page")
    number = _member(page, "page") or 1
    size = _member(page, "pageSize") or DEFAULT_PAGE_SIZE
    if not isinstance(number, int) or not isinstance(size, int):
        raise _SubRequestFailed(400, "apiRequest.page: page and pageSize must be integers")
    size = DEFAULT_PAGE_SIZE if size < 1 else min(size, MAX_PAGE_SIZE)
    chosen = select(records, ids, plan, []).page((max(number, 1) - 1) * size, size)
    fields = _member(call, "fields")
    tree = fields_tree(fields if isinstance(fields, str) else None)
    entities = [api.wire(resource, records[i], base, tree) for i in chosen]
    return entities, len(entities)


# --- app factory ----------------------------------------------------------------------------


def create_app(
    dataset: Dataset,
    *,
    company_id: str = "psad-demo",
    public_key: str = "pub",
    private_key: str = "priv",
    client_id: str = DEFAULT_CLIENT_ID,
    codebase: str = "v4_6_release/",
    faults: Faults | None = None,
    bundle_limit: int = BUNDLE_LIMIT,
) -> web.Application:
    config = CwConfig(company_id, public_key, private_key, client_id, codebase.strip("/") + "/")
    app = simulator_app(dataset, faults, cw_error_body, api_middleware(config))
    app[CONFIG_KEY] = config

    api = Api(dataset, config)
    prefix = config.api_prefix
    for resource in resources(dataset):
        path = prefix + resource.path.replace("{parent}", r"{parent:\d+}")
        app.router.add_get(path, api.list_handler(resource))
        app.router.add_get(path + "/", api.list_handler(resource))
        app.router.add_get(path + "/count", api.count_handler(resource))
        app.router.add_get(path + r"/{id:\d+}", api.get_handler(resource))
    app.router.add_get(prefix + "/system/info", api.system_info)
    app.router.add_get("/login/companyinfo/{companyId}", api.company_info)
    add_bundle_routes(app, api, faults=app[FAULTS_KEY], limit=bundle_limit)
    add_control_routes(app)
    return app

