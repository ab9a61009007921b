"""Kaseya BMS REST API v2 simulator over the shared :class:`Dataset`.

``create_app(dataset)`` serves the ``/v2/…`` endpoints psad reads (accounts
with embedded locations, account types, contacts and their custom fields,
hardware assets, queues, priorities, statuses, tickets), the token endpoints
and the shared ``/_sim/`` control plane.

Confirmed in the BMS API 2.0 OpenAPI document harvested from
``api.bms.kaseya.com/swagger/v2/swagger.json`` (api-evangelist/kaseya
``openapi/kaseya-bms-openapi-original.json``) unless marked otherwise:

- ``POST /v2/security/authenticate`` takes a form with ``GrantType`` (the only
  required field), ``UserName``, ``Password``, ``Tenant``; ``POST
  /v2/security/refreshtoken`` takes ``AccessToken`` (required) and
  ``RefreshToken``. Both answer ``TokenOutputDto`` = ``accessToken``,
  ``refreshToken``, ``accessTokenExpireOn``, ``refreshTokenExpireOn``.
  The spec says multipart; a client that runs against the real API
  (jc3k/M-Code-PowerQuery-for-Kaseya-BMS-API ``Auth_Query.m``) posts
  ``application/x-www-form-urlencoded`` with camelCase keys, so both
  encodings and any key case are accepted here.
- Every answer is ``{success, error: {code, message, details, stackStrace,
  subErrors}, result}``; paged lists add ``totalRecords`` (accounts and
  contacts summary, ticket search), lookups and ``searchselect`` lists do not.
  Keys are camelCase on the wire (jc3k reads ``result``, ``accessToken``,
  ``totalRecords``), the spec writes them PascalCase.
- Lists take ``PageSize``/``PageNumber`` and ``Filter.<Name>``;
  ``/crm/accounts/summary`` and ``/crm/contacts/summary`` take
  ``Filter.ModifiedOnFrom``/``To``; hardware assets have no changed-since
  filter and their ``searchselect`` rows are thin (detail per asset).
- ``GET /v2/servicedesk/tickets`` is deprecated in favour of ``POST
  /v2/servicedesk/tickets/search`` with ``{PageSize, PageNumber, Filter}``;
  ticket filters take names (``StatusNames``, ``QueueNames``,
  ``PriorityNames``) and ``AccountIds`` as a string.
- "The V2 API call limit is 1500 per hour per endpoint" (help.bms.kaseya.com,
  "V2 BMS Rest APIs").

Inferred: HTTP statuses follow ``error.code`` (404 for a missing record, 400
for a bad filter, 401 for bad credentials); an expired or unknown bearer
token gets ASP.NET Core's JwtBearer answer (401, empty body,
``WWW-Authenticate: Bearer error="invalid_token"``); throttling is
AspNetCoreRateLimit's default (429, ``Retry-After`` in seconds, a text/plain
"API calls quota exceeded!" body), counted per method and route; pages are
1-based and a ``PageNumber`` below 1 means the first page (jc3k also sends
0); the default page size is 50 and there is no maximum; lists are in id
order (tickets newest first); ``Filter.IsActive`` absent means all records,
while ``/crm/accounts/lookup`` hides inactive accounts unless
``Filter.WithInactiveAccounts=true``; date-times are UTC without a zone
suffix; token lifetimes; the custom-field module id of contacts (2); status
``typeId`` 3 marks a closed status; custom-field ``data`` is a string.

How the vendor-neutral dataset is rendered where BMS differs: an account has
one type (the company's first) and only ``isActive`` (its status is not an
inactive one); a contact has no address of its own and sits at its company's
main location; ``isPoc`` stands for the "Decision Maker" contact type; hardware
assets have no custom fields; statuses are global, one per distinct name (the
first of the per-board statuses), and tickets point at that one.
"""

from __future__ import annotations

import functools
import json
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final, NamedTuple

from aiohttp import web
from aiohttp.typedefs import Middleware

from psad.simulators import (
    add_control_routes,
    name_ids,
    simulator_app,
    stable_id,
)
from psad.simulators.dataset import (
    ASSET_STATUSES,
    ASSET_TYPES,
    DELETE,
    MANUFACTURERS,
    Asset,
    Board,
    Company,
    Contact,
    CustomFieldDef,
    Dataset,
    Priority,
    Site,
    Ticket,
    TicketStatus,
)
from psad.simulators.faults import Faults

API_PATH: Final = "/v2/"
DEMO_TENANT: Final = "psad-demo"
DEMO_USERNAME: Final = "api@psad-demo.example"
DEMO_PASSWORD: Final = "demo-bms-password"
SIMULATOR_SETTINGS: Final[dict[str, str]] = {"tenant": DEMO_TENANT, "username": DEMO_USERNAME}
SIMULATOR_SECRETS: Final[dict[str, str]] = {"password": DEMO_PASSWORD}

HOURLY_LIMIT: Final = 1500
RATE_WINDOW: Final = 3600.0
TOKEN_LIFETIME: Final = 3600.0
REFRESH_LIFETIME: Final = 7 * 24 * 3600.0
DEFAULT_PAGE_SIZE: Final = 50
CONTACT_MODULE_ID: Final = 2
CLOSED_STATUS_TYPE: Final = 3
DECISION_MAKER: Final = "Decision Maker"
OPEN_PATHS: Final = frozenset({"/v2/security/authenticate", "/v2/security/refreshtoken"})
_dumps: Final = functools.partial(json.dumps, separators=(",", ":"), check_circular=False)

Wire = dict[str, Any]


@dataclass(frozen=True, slots=True)
class BmsConfig:
    tenant: str
    username: str
    password: str
    token_lifetime: float = TOKEN_LIFETIME
    refresh_lifetime: float = REFRESH_LIFETIME
    hourly_limit: int = HOURLY_LIMIT
    rate_window: float = RATE_WINDOW
    contact_module_id: int = CONTACT_MODULE_ID


@dataclass(slots=True)
class Session:
    access: str
    refresh: str
    access_expires: float
    refresh_expires: float


class LoggedBody(NamedTuple):
    """A request body the simulator received (form fields or JSON)."""

    method: str
    path: str
    content_type: str
    body: Any


@dataclass
class BmsState:
    """Tokens, rate-limit windows and request bodies of one app."""

    config: BmsConfig
    clock: Callable[[], float] = time.time
    sessions: dict[str, Session] = field(default_factory=dict)
    windows: dict[str, tuple[float, int]] = field(default_factory=dict)
    bodies: list[LoggedBody] = field(default_factory=list)
    throttled: int = 0
    refused: int = 0
    issued: int = 0

    def issue(self) -> Session:
        now = self.clock()
        session = Session(_token("at"), _token("rt"), now + self.config.token_lifetime,
                          now + self.config.refresh_lifetime)
        self.sessions[session.access] = session
        self.issued += 1
        return session

    def by_refresh(self, access: str, refresh: str) -> Session | None:
        session = self.sessions.get(access)
        if session is None or session.refresh != refresh:
            return None
        if session.refresh_expires <= self.clock():
            return None
        return session

    def revoke(self, session: Session) -> None:
        self.sessions.pop(session.access, None)

    def revoke_all(self) -> None:
        self.sessions.clear()

    def over_limit(self, endpoint: str) -> float | None:
        """Seconds until the window reopens when this call is over the limit."""
        now = self.clock()
        started, used = self.windows.get(endpoint, (now, 0))
        if now - started >= self.config.rate_window:
            started, used = now, 0
        used += 1
        self.windows[endpoint] = (started, used)
        if used <= self.config.hourly_limit:
            return None
        self.throttled += 1
        return max(started + self.config.rate_window - now, 0.0)


def _token(prefix: str) -> str:
    return f"{prefix}.{secrets.token_urlsafe(24)}.{secrets.token_urlsafe(8)}"


CONFIG_KEY = web.AppKey("psad.simulators.kaseya_bms.config", BmsConfig)
STATE_KEY = web.AppKey("psad.simulators.kaseya_bms.state", BmsState)


# --- envelope and errors ---------------------------------------------------------------


def bms_error_body(status: int, message: str) -> dict[str, Any]:
    """The BMS failure envelope (also used for injected faults)."""
    return {"success": False,
            "error": {"code": status, "message": message, "details": None,
                      "stackStrace": None, "subErrors": None},
            "result": None}


def failure(status: int, message: str) -> web.Response:
    return web.json_response(bms_error_body(status, message), status=status, dumps=_dumps)


def ok(result: Any, total: int | None = None) -> web.Response:
    body: Wire = {"success": True, "error": None, "result": result}
    if total is not None:
        body["totalRecords"] = total
    return web.json_response(body, dumps=_dumps)


class BadRequest(Exception):
    """A request BMS would refuse with 400."""


def _unauthorized(challenge: str = "Bearer") -> web.Response:
    return web.Response(status=401, headers={"WWW-Authenticate": challenge})


# --- query helpers ---------------------------------------------------------------------


def _lower(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Keys folded to lower case: ASP.NET binds names case-insensitively."""
    return {str(k).lower(): v for k, v in pairs}


def _int(raw: Any, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise BadRequest(f"The value '{raw}' is not valid for {name}.")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"The value '{raw}' is not valid for {name}.") from None


def _bool(raw: Any, name: str) -> bool | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise BadRequest(f"The value '{raw}' is not valid for {name}.")


def _moment(raw: Any, name: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"The value '{raw}' is not valid for {name}.") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _names(raw: Any) -> set[str] | None:
    if raw is None or str(raw).strip() == "":
        return None
    return {part.strip().casefold() for part in str(raw).split(",") if part.strip()}


def _ids(raw: Any, name: str) -> set[int] | None:
    if raw is None or str(raw).strip() == "":
        return None
    return {_int(part.strip(), name, 0) for part in str(raw).split(",") if part.strip()}


def _page(q: Mapping[str, Any]) -> tuple[int, int]:
    number = max(_int(q.get("pagenumber"), "PageNumber", 1), 1)
    size = _int(q.get("pagesize"), "PageSize", DEFAULT_PAGE_SIZE)
    return number, size if size > 0 else DEFAULT_PAGE_SIZE


def _slice(items: Sequence[Any], number: int, size: int) -> Sequence[Any]:
    start = (number - 1) * size
    return items[start:start + size]


def _between(value: datetime, low: datetime | None, high: datetime | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


# --- wire rendering --------------------------------------------------------------------


def ts(value: datetime) -> str:
    """UTC without a zone suffix, as .NET writes an unspecified DateTime."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat()


def day(value: date | None) -> str | None:
    return None if value is None else f"{value.isoformat()}T00:00:00"


ASSET_CATEGORY_IDS: Final = name_ids(ASSET_TYPES)
ASSET_STATE_IDS: Final = name_ids(ASSET_STATUSES)
MANUFACTURER_IDS: Final = name_ids(MANUFACTURERS)
COUNTRY_IDS: Final = name_ids(("United States", "Canada", "United Kingdom", "Australia"))
INACTIVE_ASSET_STATES: Final = frozenset({"Inactive", "Retired"})
PRIORITY_COLORS: Final = ("#D9534F", "#F0AD4E", "#5CB85C", "#5BC0DE")
CUSTOM_FIELD_TYPES: Final = {"Text": 0, "Number": 1, "Date": 2, "Checkbox": 3}


def os_platform(os_name: str | None) -> str | None:
    if os_name is None:
        return None
    for prefix, platform in (("Windows", "Windows"), ("macOS", "Mac OS"), ("Ubuntu", "Linux"),
                             ("DSM", "Linux")):
        if os_name.startswith(prefix):
            return platform
    return "Other"


def main_site(ds: Dataset, company_id: int | None) -> Site | None:
    if company_id is None:
        return None
    sites = [ds.sites[i] for i in ds.children("sites", company_id)]
    return next((s for s in sites if s.primary), sites[0] if sites else None)


def account_is_active(ds: Dataset, c: Company) -> bool:
    status = ds.company_statuses.get(c.status_id) if c.status_id is not None else None
    return status is None or not status.inactive


def render_address(s: Site) -> Wire:
    return {"id": s.id, "createdOn": ts(s.created_at), "modifiedOn": ts(s.updated_at),
            "address1": s.line1, "address2": s.line2, "city": s.city, "state": s.region,
            "zipCode": s.postal_code,
            "countryId": None if s.country is None else COUNTRY_IDS.get(s.country),
            "country": s.country, "phone": s.phone, "fax": None, "latitude": None,
            "longitude": None, "emailAddress": None, "isMain": True, "isBilling": s.primary,
            "addressTypeId": 1, "addressType": "Main"}


def render_location(ds: Dataset, s: Site) -> Wire:
    wire: Wire = {"id": s.id, "createdBy": 1, "createdOn": ts(s.created_at), "modifiedBy": 1,
                  "modifiedOn": ts(s.updated_at), "locationName": s.name, "isMain": s.primary,
                  "isActive": s.active, "timeZoneId": None, "dateFormatId": None,
                  "timeFormatId": None, "addresses": [render_address(s)]}
    return with_overrides(ds, "sites", s.id, wire)


def render_account(ds: Dataset, c: Company, tenant: str) -> Wire:
    account_type = ds.company_types.get(c.type_ids[0]) if c.type_ids else None
    return {
        "id": c.id, "createdBy": 1, "createdOn": ts(c.created_at), "modifiedBy": 1,
        "modifiedOn": ts(c.updated_at), "parentId": None, "accountCode": c.identifier,
        "accountTypeId": None if account_type is None else account_type.id,
        "accountType": None if account_type is None else account_type.name,
        "accountName": c.name, "businessTypeId": None, "businessType": None,
        "serviceTypeId": None, "serviceType": None, "accountManagerId": 1,
        "accountManagerUserName": "psadsim", "currencyId": 1, "currencyName": "USD",
        "creditLimit": None, "netDays": 30.0, "salesTaxItemId": None, "salesTaxItemName": None,
        "website": c.website, "description": None, "classId": None, "className": None,
        "isActive": account_is_active(ds, c), "isBilling": True, "acquiredDate": None,
        "tenantName": tenant,
        "locations": [render_location(ds, ds.sites[i]) for i in ds.children("sites", c.id)],
    }


def render_account_lookup(ds: Dataset, c: Company, tenant: str) -> Wire:
    return {"id": c.id, "name": c.name, "tenantName": tenant, "isActive": account_is_active(ds, c)}


def render_contact(ds: Dataset, c: Contact) -> Wire:
    company = ds.companies.get(c.company_id) if c.company_id is not None else None
    site = main_site(ds, c.company_id)
    emails = [] if not c.email else [
        {"id": c.id, "createdOn": ts(c.created_at), "modifiedOn": ts(c.updated_at),
         "emailAddress": c.email, "emailTypeId": 1, "emailType": "Work", "isDefault": True}]
    phones = [] if not c.phone else [
        {"id": c.id, "createdOn": ts(c.created_at), "modifiedOn": ts(c.updated_at),
         "phone": c.phone, "phoneTypeId": 1, "phoneType": "Work", "isDefault": True}]
    return {
        "id": c.id, "createdBy": 1, "createdOn": ts(c.created_at), "modifiedBy": 1,
        "modifiedOn": ts(c.updated_at), "accountId": c.company_id or 0,
        "accountName": None if company is None else company.name,
        "locationId": None if site is None else site.id,
        "locationName": None if site is None else site.name,
        "firstName": c.first_name, "lastName": c.last_name, "jobTitle": c.title,
        "isPoc": c.type == DECISION_MAKER, "isActive": c.active, "effectiveDate": None,
        "isBillable": False, "emails": emails, "phones": phones, "canRecieveInvoices": False,
    }


def render_contact_search(ds: Dataset, c: Contact) -> Wire:
    summary = render_contact(ds, c)
    return {"id": c.id, "accountId": summary["accountId"], "accountName": summary["accountName"],
            "locationId": summary["locationId"] or 0, "locationName": summary["locationName"],
            "firstName": c.first_name, "lastName": c.last_name, "jobTitle": c.title,
            "emailAddress": c.email, "isPoc": summary["isPoc"], "isActive": c.active,
            "hasClientPortalAccess": False}


def custom_data(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def render_custom_fields(defs: Sequence[CustomFieldDef], record_id: int,
                         values: Mapping[str, Any]) -> list[Wire]:
    return [{"id": record_id * 100 + d.id, "name": d.caption,
             "data": custom_data(values.get(d.caption)), "settingsId": 0,
             "customFieldType": CUSTOM_FIELD_TYPES.get(d.type, 0), "customFieldId": d.id}
            for d in defs]


def category_id(name: str | None) -> int | None:
    return None if name is None else ASSET_CATEGORY_IDS.get(name, stable_id(name))


def render_asset_row(ds: Dataset, a: Asset) -> Wire:
    company = ds.companies.get(a.company_id) if a.company_id is not None else None
    site = main_site(ds, a.company_id)
    return {"id": a.id, "categoryName": a.type,
            "categoryId": category_id(a.type) or 0,
            "locationName": None if site is None else site.name, "assetName": a.name,
            "serialNumber": a.serial_number, "machineGroupId": None,
            "contactId": 0, "contactName": None, "accountId": a.company_id or 0,
            "accountName": None if company is None else company.name,
            "isActive": a.status not in INACTIVE_ASSET_STATES}


def render_asset(ds: Dataset, a: Asset) -> Wire:
    company = ds.companies.get(a.company_id) if a.company_id is not None else None
    site = main_site(ds, a.company_id)
    return {
        "id": a.id, "name": a.name, "accountId": a.company_id,
        "accountName": None if company is None else company.name,
        "accountLocationId": None if site is None else site.id,
        "accountLocation": None if site is None else site.name,
        "contactId": None, "contactFirstName": None, "contactLastName": None,
        "categoryId": category_id(a.type),
        "category": a.type, "brandId": None, "brand": None, "serialNumber": a.serial_number,
        "businessImpactId": None, "businessImpact": None,
        "stateId": None if a.status is None else ASSET_STATE_IDS.get(a.status,
                                                                      stable_id(a.status)),
        "state": a.status, "locationInfo": None, "description": a.notes, "barCode": None,
        "assetTag": None, "vendorId": None, "webRemoteUrl": None, "vendor": None,
        "isActive": a.status not in INACTIVE_ASSET_STATES, "modelNumber": None,
        "machineGroupId": None, "ipAddress": None, "subnetMask": None, "defaultGateway": None,
        "dnsServers": None, "dhcpEnabled": False, "dhcpServer": None, "winsEnabled": False,
        "osType": os_platform(a.os_type), "osInfo": a.os_type, "macAddress": None,
        "manufacturerId": None if a.manufacturer is None else MANUFACTURER_IDS.get(
            a.manufacturer, stable_id(a.manufacturer)),
        "manufacturer": a.manufacturer, "purchaseCost": None,
        "warrantyExpirationDate": day(a.warranty_expiration), "expirationDate": None,
        "acquisitionDate": day(a.purchase_date), "createdById": 1, "createdBy": "psadsim",
        "modifiedById": 1, "modifiedBy": "psadsim", "createdOn": ts(a.created_at),
        "modifiedOn": ts(a.updated_at), "agentId": None, "diskVolumes": [],
        "integrationTypeId": None, "statuses": [],
    }


def render_queue(ds: Dataset, b: Board) -> Wire:
    return {"id": b.id, "name": b.name, "isActive": b.active}


def render_priority(ds: Dataset, p: Priority) -> Wire:
    return {"id": p.id, "name": p.name,
            "color": PRIORITY_COLORS[(p.sort_order - 1) % len(PRIORITY_COLORS)],
            "isDefault": p.sort_order == 3}


def status_type(s: TicketStatus) -> int:
    if s.closed:
        return CLOSED_STATUS_TYPE
    return 1 if s.sort_order == 0 else 2


def render_status(ds: Dataset, s: TicketStatus) -> Wire:
    return {"id": s.id, "name": s.name, "fontColor": "#FFFFFF", "color": "#337AB7",
            "statusOrder": s.sort_order, "typeId": status_type(s), "isSystemStatus": 0,
            "slaEventId": None, "isActive": True}


def global_statuses(ds: Dataset) -> dict[str, TicketStatus]:
    """BMS statuses are global: the first dataset status of each name stands for all."""
    out: dict[str, TicketStatus] = {}
    for status in ds.records("ticket_statuses"):
        out.setdefault(status.name.casefold(), status)
    return out


def _ticket_refs(ds: Dataset, t: Ticket, statuses: Mapping[str, TicketStatus]) -> Wire:
    company = ds.companies.get(t.company_id) if t.company_id is not None else None
    site = main_site(ds, t.company_id)
    board = ds.boards.get(t.board_id) if t.board_id is not None else None
    raw_status = ds.ticket_statuses.get(t.status_id) if t.status_id is not None else None
    status = statuses.get(raw_status.name.casefold()) if raw_status is not None else None
    priority = ds.priorities.get(t.priority_id) if t.priority_id is not None else None
    contact = ds.contacts.get(t.contact_id) if t.contact_id is not None else None
    return {
        "accountId": t.company_id, "accountCode": None if company is None else company.identifier,
        "accountName": None if company is None else company.name,
        "locationId": None if site is None else site.id,
        "locationName": None if site is None else site.name,
        "contactId": t.contact_id,
        "contactName": None if contact is None else f"{contact.first_name} {contact.last_name}",
        "queueId": t.board_id, "queueName": None if board is None else board.name,
        "statusId": None if status is None else status.id,
        "statusName": None if status is None else status.name,
        "statusColor": "#337AB7", "statusForeColor": "#FFFFFF",
        "statusOrder": 0 if status is None else status.sort_order,
        "priorityId": t.priority_id, "priorityName": None if priority is None else priority.name,
        "priorityColor": None if priority is None else render_priority(ds, priority)["color"],
    }


def render_ticket(ds: Dataset, t: Ticket, statuses: Mapping[str, TicketStatus]) -> Wire:
    return {
        "id": t.id, "createdBy": 1, "createdOn": ts(t.created_at), "modifiedBy": 1,
        "modifiedOn": ts(t.updated_at), "ticketNumber": f"T{t.created_at:%Y%m%d}.{t.id:04d}",
        "title": t.summary, "details": t.summary, **_ticket_refs(ds, t, statuses),
        "typeId": 1, "typeName": "Incident", "issueTypeId": None, "issueTypeName": None,
        "subIssueTypeId": None, "subIssueTypeName": None, "assigneeId": None,
        "assigneeName": None, "openDate": ts(t.created_at), "dueDate": None,
        "completedDate": ts(t.updated_at) if t.closed else None,
        "lastActivityUpdate": ts(t.updated_at), "isScheduled": 0, "hardwareAssetId": 0,
    }


def with_overrides(ds: Dataset, entity: str, record_id: int, wire: Wire) -> Wire:
    """Apply test corruption: set or drop keys, ``a/b`` reaching into nested objects."""
    overrides = ds.overrides(entity, record_id)
    if not overrides:
        return wire
    for path, value in overrides.items():
        *parents, key = path.split("/")
        node: Wire = wire
        for part in parents:
            child = node.get(part)
            node[part] = dict(child) if isinstance(child, dict) else {}
            node = node[part]
        if value is DELETE:
            node.pop(key, None)
        else:
            node[key] = value
    return wire


# --- handlers --------------------------------------------------------------------------


def _query(request: web.Request) -> dict[str, Any]:
    return _lower(request.query.items())


async def _form(request: web.Request, state: BmsState) -> dict[str, str] | web.Response:
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return web.Response(status=415)
    posted = {k: str(v) for k, v in (await request.post()).items()}
    state.bodies.append(LoggedBody(request.method, request.path, request.content_type, posted))
    return _lower(posted.items())


def token_result(session: Session) -> Wire:
    def at(moment: float) -> str:
        return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")
    return {"accessToken": session.access, "refreshToken": session.refresh,
            "accessTokenExpireOn": at(session.access_expires),
            "refreshTokenExpireOn": at(session.refresh_expires)}


class Api:
    """Request handlers; everything reads the app's dataset and state."""

    def __init__(self, ds: Dataset, state: BmsState) -> None:
        self.ds = ds
        self.state = state
        self.config = state.config

    # -- security ----------------------------------------------------------------------

    async def authenticate(self, request: web.Request) -> web.Response:
        fields = await _form(request, self.state)
        if isinstance(fields, web.Response):
            return fields
        grant = fields.get("granttype", "")
        if not grant:
            return failure(400, "The GrantType field is required.")
        if grant.lower() != "password":
            return failure(400, f"Grant type '{grant}' is not supported.")
        config = self.config
        if (fields.get("tenant", "").casefold() != config.tenant.casefold()
                or fields.get("username", "").casefold() != config.username.casefold()
                or fields.get("password", "") != config.password):
            return failure(401, "Invalid user name, password or company name.")
        return ok(token_result(self.state.issue()))

    async def refresh_token(self, request: web.Request) -> web.Response:
        fields = await _form(request, self.state)
        if isinstance(fields, web.Response):
            return fields
        access = fields.get("accesstoken", "")
        if not access:
            return failure(400, "The AccessToken field is required.")
        session = self.state.by_refresh(access, fields.get("refreshtoken", ""))
        if session is None:
            return failure(401, "The refresh token is invalid or has expired.")
        self.state.revoke(session)
        return ok(token_result(self.state.issue()))

    # -- crm ---------------------------------------------------------------------------

    async def accounts_summary(self, request: web.Request) -> web.Response:
        q = _query(request)
        number, size = _page(q)
        modified = (_moment(q.get("filter.modifiedonfrom"), "ModifiedOnFrom"),
                    _moment(q.get("filter.modifiedonto"), "ModifiedOnTo"))
        created = (_moment(q.get("filter.createdonfrom"), "CreatedOnFrom"),
                   _moment(q.get("filter.createdonto"), "CreatedOnTo"))
        active = _bool(q.get("filter.isactive"), "IsActive")
        name = str(q.get("filter.accountname") or "").casefold()
        type_id = _int(q.get("filter.accounttypeid"), "AccountTypeId", 0)
        ds = self.ds

        def keep(c: Company) -> bool:
            return (_between(c.updated_at, *modified) and _between(c.created_at, *created)
                    and (active is None or account_is_active(ds, c) == active)
                    and (not name or name in c.name.casefold())
                    and (not type_id or (bool(c.type_ids) and c.type_ids[0] == type_id)))

        chosen = [c for c in ds.records("companies") if keep(c)]
        page = _slice(chosen, number, size)
        tenant = self.config.tenant
        return ok([with_overrides(ds, "companies", c.id, render_account(ds, c, tenant))
                   for c in page], total=len(chosen))

    async def accounts_lookup(self, request: web.Request) -> web.Response:
        q = _query(request)
        number, size = _page(q)
        with_inactive = _bool(q.get("filter.withinactiveaccounts"), "WithInactiveAccounts")
        name = str(q.get("filter.name") or "").casefold()
        ds = self.ds
        chosen = [c for c in ds.records("companies")
                  if (with_inactive or account_is_active(ds, c))
                  and (not name or name in c.name.casefold())]
        tenant = self.config.tenant
        return ok([render_account_lookup(ds, c, tenant) for c in _slice(chosen, number, size)])

    async def account_types(self, request: web.Request) -> web.Response:
        return ok([{"id": t.id, "name": t.name, "isActive": True, "isClient": t.name == "Client",
                    "isVendor": t.name == "Vendor"} for t in self.ds.records("company_types")])

    async def account_locations(self, request: web.Request) -> web.Response:
        account_id = int(request.match_info["accountId"])
        if account_id not in self.ds.companies:
            return failure(404, f"Account {account_id} was not found.")
        return ok([{"id": s.id, "name": s.name, "accountId": account_id, "isMain": s.primary}
                   for s in (self.ds.sites[i] for i in self.ds.children("sites", account_id))])

    async def account_location(self, request: web.Request) -> web.Response:
        account_id = int(request.match_info["accountId"])
        site = self.ds.sites.get(int(request.match_info["locationId"]))
        if site is None or site.company_id != account_id:
            return failure(404, "Location was not found.")
        return ok(render_location(self.ds, site))

    def _contacts(self, q: Mapping[str, Any]) -> list[Contact]:
        modified = (_moment(q.get("filter.modifiedonfrom"), "ModifiedOnFrom"),
                    _moment(q.get("filter.modifiedonto"), "ModifiedOnTo"))
        created = (_moment(q.get("filter.createdonfrom"), "CreatedOnFrom"),
                   _moment(q.get("filter.createdonto"), "CreatedOnTo"))
        active = _bool(q.get("filter.isactive"), "IsActive")
        account = _int(q.get("filter.accountid"), "AccountId", 0)
        first = str(q.get("filter.firstname") or "").casefold()
        last = str(q.get("filter.lastname") or "").casefold()

        def keep(c: Contact) -> bool:
            return (_between(c.updated_at, *modified) and _between(c.created_at, *created)
                    and (active is None or c.active == active)
                    and (not account or c.company_id == account)
                    and (not first or first in (c.first_name or "").casefold())
                    and (not last or last in (c.last_name or "").casefold()))

        return [c for c in self.ds.records("contacts") if keep(c)]

    async def contacts_summary(self, request: web.Request) -> web.Response:
        q = _query(request)
        number, size = _page(q)
        chosen = self._contacts(q)
        ds = self.ds
        return ok([with_overrides(ds, "contacts", c.id, render_contact(ds, c))
                   for c in _slice(chosen, number, size)], total=len(chosen))

    async def contacts_search(self, request: web.Request) -> web.Response:
        q = _query(request)
        number, size = _page(q)
        chosen = self._contacts(q)
        return ok([render_contact_search(self.ds, c) for c in _slice(chosen, number, size)])

    async def custom_fields(self, request: web.Request) -> web.Response:
        module = int(request.match_info["moduleId"])
        object_id = int(request.match_info["objectId"])
        if module != self.config.contact_module_id:
            return ok([])
        contact = self.ds.contacts.get(object_id)
        if contact is None:
            return failure(404, f"Record {object_id} was not found.")
        return ok(render_custom_fields(self.ds.contact_fields, contact.id, contact.custom_fields))

    # -- service desk ------------------------------------------------------------------

    async def assets_searchselect(self, request: web.Request) -> web.Response:
        q = _query(request)
        number, size = _page(q)
        active = _bool(q.get("filter.isactive"), "IsActive")
        account = _int(q.get("filter.accountid"), "AccountId", 0)
        serial = str(q.get("filter.serialnumber") or "").casefold()
        ds = self.ds
        chosen = [a for a in ds.records("assets")
                  if (active is None or (a.status not in INACTIVE_ASSET_STATES) == active)
                  and (not account or a.company_id == account)
                  and (not serial or serial in (a.serial_number or "").casefold())]
        return ok([with_overrides(ds, "assets", a.id, render_asset_row(ds, a))
                   for a in _slice(chosen, number, size)])

    async def asset(self, request: web.Request) -> web.Response:
        asset_id = int(request.match_info["assetId"])
        found = self.ds.assets.get(asset_id)
        if found is None:
            return failure(404, f"Hardware asset {asset_id} was not found.")
        return ok(with_overrides(self.ds, "assets", asset_id, render_asset(self.ds, found)))

    async def queues(self, request: web.Request) -> web.Response:
        return ok([with_overrides(self.ds, "boards", b.id, render_queue(self.ds, b))
                   for b in self.ds.records("boards")])

    async def priorities(self, request: web.Request) -> web.Response:
        return ok([with_overrides(self.ds, "priorities", p.id, render_priority(self.ds, p))
                   for p in self.ds.records("priorities")])

    async def statuses(self, request: web.Request) -> web.Response:
        return ok([with_overrides(self.ds, "ticket_statuses", s.id, render_status(self.ds, s))
                   for s in global_statuses(self.ds).values()])

    def _tickets(self, f: Mapping[str, Any]) -> list[Ticket]:
        ds = self.ds
        accounts = _ids(f.get("accountids"), "AccountIds")
        queues = _names(f.get("queuenames"))
        statuses = _names(f.get("statusnames"))
        priorities = _names(f.get("prioritynames"))
        title = str(f.get("title") or "").casefold()
        exclude_completed = _int(f.get("excludecompleted"), "ExcludeCompleted", 0) == 1

        def name_of(table: Mapping[int, Any], key: int | None) -> str:
            found = table.get(key) if key is not None else None
            return "" if found is None else found.name.casefold()

        def keep(t: Ticket) -> bool:
            return ((accounts is None or t.company_id in accounts)
                    and (queues is None or name_of(ds.boards, t.board_id) in queues)
                    and (statuses is None or name_of(ds.ticket_statuses, t.status_id) in statuses)
                    and (priorities is None
                         or name_of(ds.priorities, t.priority_id) in priorities)
                    and (not title or title in t.summary.casefold())
                    and not (exclude_completed and t.closed))

        return [ds.tickets[i] for i in reversed(ds.ids("tickets")) if keep(ds.tickets[i])]

    def _ticket_page(self, f: Mapping[str, Any], number: int, size: int) -> web.Response:
        chosen = self._tickets(f)
        statuses = global_statuses(self.ds)
        return ok([with_overrides(self.ds, "tickets", t.id, render_ticket(self.ds, t, statuses))
                   for t in _slice(chosen, number, size)], total=len(chosen))

    async def tickets_search(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return failure(400, "The request body is not valid JSON.")
        self.state.bodies.append(LoggedBody(request.method, request.path, request.content_type,
                                            body))
        if not isinstance(body, dict):
            return failure(400, "The request body must be an object.")
        top = _lower(body.items())
        raw_filter = top.get("filter") or {}
        if not isinstance(raw_filter, dict):
            return failure(400, "Filter must be an object.")
        number, size = _page(top)
        return self._ticket_page(_lower(raw_filter.items()), number, size)

    async def tickets_list(self, request: web.Request) -> web.Response:
        """The deprecated GET form of the ticket search."""
        q = _query(request)
        number, size = _page(q)
        filters = {k.removeprefix("filter."): v for k, v in q.items() if k.startswith("filter.")}
        return self._ticket_page(filters, number, size)

    async def ticket(self, request: web.Request) -> web.Response:
        ticket_id = int(request.match_info["ticketId"])
        found = self.ds.tickets.get(ticket_id)
        if found is None:
            return failure(404, f"Ticket {ticket_id} was not found.")
        statuses = global_statuses(self.ds)
        return ok(with_overrides(self.ds, "tickets", ticket_id,
                                 render_ticket(self.ds, found, statuses)))


# --- middleware ------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _endpoint(request: web.Request) -> str:
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    return f"{request.method} {template.lower()}"


def _window_label(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def check_bearer(request: web.Request, state: BmsState) -> web.Response | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized()
    session = state.sessions.get(token.strip())
    if session is None:
        return _unauthorized('Bearer error="invalid_token"')
    if session.access_expires <= state.clock():
        expired = datetime.fromtimestamp(session.access_expires, UTC)
        return _unauthorized('Bearer error="invalid_token", error_description='
                             f'"The token expired at \'{expired:%m/%d/%Y %H:%M:%S}\'"')
    return None


def api_middleware(state: BmsState) -> Middleware:
    @web.middleware
    async def bms(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PATH):
            return await handler(request)
        wait = state.over_limit(_endpoint(request))
        if wait is not None:
            config = state.config
            return web.Response(
                status=429, headers={"Retry-After": str(max(math.ceil(wait), 1))},
                text=f"API calls quota exceeded! maximum admitted {config.hourly_limit} "
                     f"per {_window_label(config.rate_window)}.")
        if request.path.rstrip("/").lower() not in OPEN_PATHS:
            refusal = check_bearer(request, state)
            if refusal is not None:
                state.refused += 1
                return refusal
        try:
            return await handler(request)
        except BadRequest as err:
            return failure(400, str(err))
        except web.HTTPNotFound:
            return web.Response(status=404)
        except web.HTTPMethodNotAllowed:
            return web.Response(status=405)

    return bms


# --- app factory -----------------------------------------------------------------------


def create_app(
    dataset: Dataset,
    *,
    tenant: str = DEMO_TENANT,
    username: str = DEMO_USERNAME,
    password: str = DEMO_PASSWORD,
    token_lifetime: float = TOKEN_LIFETIME,
    hourly_limit: int = HOURLY_LIMIT,
    rate_window: float = RATE_WINDOW,
    clock: Callable[[], float] = time.time,
    faults: Faults | None = None,
) -> web.Application:
    config = BmsConfig(tenant, username, password, token_lifetime=token_lifetime,
                       hourly_limit=hourly_limit, rate_window=rate_window)
    state = BmsState(config, clock)
    app = simulator_app(dataset, faults, bms_error_body, api_middleware(state))
    app[CONFIG_KEY] = config
    app[STATE_KEY] = state

    api = Api(dataset, state)
    r = app.router
    r.add_post("/v2/security/authenticate", api.authenticate)
    r.add_post("/v2/security/refreshtoken", api.refresh_token)
    r.add_get("/v2/crm/accounts/summary", api.accounts_summary)
    r.add_get("/v2/crm/accounts/lookup", api.accounts_lookup)
    r.add_get(r"/v2/crm/accounts/{accountId:\d+}/locations/lookup", api.account_locations)
    r.add_get(r"/v2/crm/accounts/{accountId:\d+}/locations/{locationId:\d+}", api.account_location)
    r.add_get("/v2/system/accounttypes/lookup", api.account_types)
    r.add_get("/v2/crm/contacts/summary", api.contacts_summary)
    r.add_get("/v2/crm/contacts/search", api.contacts_search)
    r.add_get(r"/v2/system/customFields/{moduleId:\d+}/{objectId:\d+}", api.custom_fields)
    r.add_get("/v2/servicedesk/hardwareasset/searchselect", api.assets_searchselect)
    r.add_get(r"/v2/servicedesk/hardwareasset/{assetId:\d+}", api.asset)
    r.add_get("/v2/system/queues/lookup", api.queues)
    r.add_get("/v2/system/priorities/lookup", api.priorities)
    r.add_get("/v2/system/statuses/lookup", api.statuses)
    r.add_post("/v2/servicedesk/tickets/search", api.tickets_search)
    r.add_get("/v2/servicedesk/tickets", api.tickets_list)
    r.add_get(r"/v2/servicedesk/tickets/{ticketId:\d+}", api.ticket)
    add_control_routes(app)
    return app
