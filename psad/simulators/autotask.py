"""Autotask PSA REST API (v1.0) simulator over the shared :class:`Dataset`.

``create_app(dataset)`` serves, for every entity psad reads, the REST surface
``/{zone}/ATServicesRest/V1.0/{Entity}/…``: ``query`` (POST body or GET
``?search=``), ``query/next`` (the ``pageDetails.nextPageUrl``), ``query/count``,
``{id}``, ``entityInformation``, ``entityInformation/fields`` and
``entityInformation/userDefinedFields``; plus ``ThresholdInformation``, the
unauthenticated ``zoneInformation?user=`` (on the global ``/ATServicesRest/``
root and on every zone), and the shared ``/_sim/`` control plane with two
Autotask extras: ``POST /_sim/autotask/zone`` (move the database to another
zone) and ``POST /_sim/autotask/usage`` (requests made by other integrations).

Confirmed with public sources:

- Auth is three headers on every call, ``ApiIntegrationCode``, ``UserName``
  and ``Secret`` (header names case-insensitive), optional
  ``ImpersonationResourceId`` (Autotask REST OpenAPI specs, api-evangelist/kaseya).
- An unknown user name or a wrong integration code answer **500**, a wrong
  secret **401**, with a body like ``{"errors": ["…"]}`` (apigrate/autotask-restapi
  issue #19). ``zoneInformation`` for an unknown user answers 500
  ``{"errors":["Zone information could not be determined"]}`` (KelvinTegelaar/
  AutotaskAPI issue #17, django-autotask ``get_zone_info``) and needs no auth.
- Zone information holds ``url`` (the zone's ``…/ATServicesRest/``) and
  ``webUrl`` (the UI root); django-autotask appends ``v1.0/`` to ``url``.
- Query bodies ``{"MaxRecords", "IncludeFields", "filter": [{op, field, value,
  udf, items}]}`` (keys case-insensitive; spec example uses ``Filter``),
  operators ``eq noteq gt gte lt lte beginsWith endsWith contains exist
  notExist in notIn`` and ``and``/``or`` groups; results ``{"items",
  "pageDetails": {"count", "requestCount", "prevPageUrl", "nextPageUrl"}}``,
  at most 500 per page, sorted by id; ``nextPageUrl`` is
  ``…/{Entity}/query/next?paging={"pageSize":500,"previousIds":[-1],"nextIds":[725]}``
  (URL-encoded, as captured from a live tenant) and must be POSTed with the same body —
  a GET answers 405 "does not support http method 'GET'" (public client notes);
  ``query/count`` answers ``{"queryCount": N}``; a GET by id answers
  ``{"item": {…}}`` or ``{"item": null}`` with 200 when absent.
- Every record carries all of its entity's fields, ``null`` when empty (the field lists
  of the REST schema, :mod:`psad.simulators.autotask_fields`); ``entityInformation``
  names the entity in the singular (``Company``).
- Field names, picklist shape (``value`` is a string), ``userDefinedFields``
  as ``[{name, value}]`` with string values, contact ``isActive`` as 0/1, no
  change-tracking field on CompanyLocations (OpenAPI specs).
- All times are UTC (Autotask REST "resources" overview).
- 10,000 requests per rolling 60 minutes per *database*, shared by every
  integration; latency of +0.5 s per call from 50 % and +1 s from 75 % of it;
  ``GET /V1.0/ThresholdInformation`` → ``{"externalRequestThreshold",
  "requestThresholdTimeframe", "currentTimeframeRequestCount"}`` (threshold
  OpenAPI spec, Autotask help, Cloud Depot KB).
- At most 3 concurrent requests per tracking identifier and object endpoint;
  the 4th answers 429 "API thread threshold of 3 threads has been exceeded";
  ``zoneInformation`` is exempt, ``ThresholdInformation`` is not (Autotask
  "API thread limiting" help; n8n-nodes-autotask PR #107; client reports).

Inferred: the exact wording of error messages other than the two above; a
call to a zone that is not the user's answers 401; past the hourly threshold
a call answers 429 ``{"errors": [...]}`` without ``Retry-After``; refused
calls do not count against the threshold and ``ThresholdInformation`` itself
is neither counted nor refused by it; a bad filter or a missing ``filter``
answers 500; ``MaxRecords`` outside 1–500 is refused; the ``paging`` token
format (opaque to clients); UDF ``type`` names ("string", "double",
"datetime"); Yes/No list UDFs stand for check boxes (Autotask has no boolean
UDF); timestamps carry milliseconds and ``Z`` (real responses also appear
without a zone suffix); string comparisons are case-insensitive (SQL Server
collation); a boolean (``true`` or ``"true"``) compared with an integer flag such as a
contact's 0/1 ``isActive`` is read as 1 or 0, as the API's value conversion does.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from bisect import bisect_left, bisect_right
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final, NamedTuple
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Middleware

from psad.simulators import (
    add_control_routes,
    apply_overrides,
    simulator_app,
    stable_id,
)
from psad.simulators.autotask_fields import ENTITY_FIELDS
from psad.simulators.dataset import (
    ASSET_TYPES,
    MANUFACTURERS,
    TICKET_STATUSES,
    Asset,
    Company,
    Contact,
    CustomFieldDef,
    CustomValue,
    Dataset,
    Site,
    Ticket,
)
from psad.simulators.faults import Faults
from psad.simulators.id_plan import Bound, Plan, Predicate, narrowed

DEMO_USERNAME: Final = "psad-api@psad-demo.example"
DEMO_SECRET: Final = "demo-Secret-7Hq2"
DEMO_INTEGRATION_CODE: Final = "PSADDEMO0INTEGRATION0CODE27"
DEFAULT_ZONE: Final = "webservices5"
API_PATH: Final = "/ATServicesRest/"
"""Appended to the simulator root: the global zone-discovery root psad starts from."""
PURCHASE_DATE_UDF: Final = "Purchase Date"
CLOSED_STATUSES: Final = ",".join(name for name, closed in TICKET_STATUSES if closed)

SIMULATOR_SETTINGS: Final[dict[str, str]] = {
    "username": DEMO_USERNAME,
    "purchase_date_udf": PURCHASE_DATE_UDF,
    "closed_statuses": CLOSED_STATUSES,
    "zone_hosts": "http://127.0.0.1",
}
SIMULATOR_SECRETS: Final[dict[str, str]] = {
    "secret": DEMO_SECRET,
    "integration_code": DEMO_INTEGRATION_CODE,
}

MAX_RECORDS: Final = 500
REQUEST_THRESHOLD: Final = 10_000
THRESHOLD_WINDOW: Final = 3600.0
THREAD_LIMIT: Final = 3
USAGE_LATENCY: Final = (0.5, 1.0)
_dumps: Final = functools.partial(json.dumps, separators=(",", ":"), check_circular=False)

Wire = dict[str, Any]


# --- errors ---------------------------------------------------------------------------------


def at_error_body(status: int, message: str) -> dict[str, Any]:
    """Autotask's error body (also used for injected faults)."""
    return {"errors": [message]}


def at_error(status: int, *messages: str) -> web.Response:
    return _json({"errors": list(messages)}, status=status)


def _json(body: Any, *, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


class QueryError(Exception):
    """A query Autotask refuses; answered 500 with ``{"errors": [...]}``."""


# --- the database's shared limits ------------------------------------------------------------


Clock = Callable[[], float]


class RequestBudget:
    """The rolling-window request threshold of one Autotask database."""

    def __init__(self, limit: int, window: float, clock: Clock) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.stamps: deque[float] = deque()
        self.rejected = 0

    def count(self) -> int:
        cutoff = self.clock() - self.window
        while self.stamps and self.stamps[0] <= cutoff:
            self.stamps.popleft()
        return len(self.stamps)

    def admit(self) -> bool:
        if self.count() >= self.limit:
            self.rejected += 1
            return False
        self.stamps.append(self.clock())
        return True

    def add_external(self, requests: int) -> None:
        """Requests made by other integrations of the same database, now."""
        now = self.clock()
        self.stamps.extend([now] * requests)

    def share(self) -> float:
        return self.count() / self.limit if self.limit else 1.0

    def info(self) -> Wire:
        return {"externalRequestThreshold": self.limit,
                "requestThresholdTimeframe": max(1, round(self.window / 60)),
                "currentTimeframeRequestCount": self.count()}


class ThreadGate:
    """Concurrent requests per (tracking identifier, object endpoint)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active: Counter[tuple[str, str]] = Counter()
        self.peak: Counter[str] = Counter()
        self.rejected = 0

    def enter(self, code: str, endpoint: str) -> bool:
        key = (code, endpoint)
        if self.active[key] >= self.limit:
            self.rejected += 1
            return False
        self.active[key] += 1
        self.peak[endpoint] = max(self.peak[endpoint], self.active[key])
        return True

    def leave(self, code: str, endpoint: str) -> None:
        self.active[(code, endpoint)] -= 1


@dataclass(frozen=True, slots=True)
class AtConfig:
    username: str
    secret: str
    integration_code: str
    usage_latency: tuple[float, float]


@dataclass(slots=True)
class AtState:
    """What tests inspect or change: zone, limits, and the bodies clients sent."""

    zone: str
    budget: RequestBudget
    threads: ThreadGate
    bodies: list[tuple[str, str, Any]] = field(default_factory=list)
    """(method, path, parsed JSON body) of every API request that had a body."""


CONFIG_KEY = web.AppKey("psad.simulators.autotask.config", AtConfig)
STATE_KEY = web.AppKey("psad.simulators.autotask.state", AtState)


# --- wire rendering ---------------------------------------------------------------------------


def ts(value: datetime | None) -> str | None:
    """``2025-01-31T02:00:00.123Z``: UTC with milliseconds."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat() + "T00:00:00.000Z"


class Lookup:
    """A named lookup table that grows as rendering meets new names (ids stay stable)."""

    def __init__(self, names: Iterable[str]) -> None:
        self.ids: dict[str, int] = {}
        for name in names:
            self.ids.setdefault(name, len(self.ids) + 1)

    def id(self, name: str | None) -> int | None:
        if name is None:
            return None
        found = self.ids.get(name)
        if found is None:
            found = self.ids[name] = stable_id(name)
        return found

    def items(self) -> list[tuple[int, str]]:
        return sorted((i, n) for n, i in self.ids.items())


COUNTRY_IDS: Final = {"Australia": 14, "Canada": 39, "France": 75, "Germany": 83, "Ireland": 105,
                      "New Zealand": 157, "United Kingdom": 236, "United States": 237}
COUNTRY_CODES: Final = {"Australia": "AU", "Canada": "CA", "France": "FR", "Germany": "DE",
                        "Ireland": "IE", "New Zealand": "NZ", "United Kingdom": "GB",
                        "United States": "US"}
YES_NO: Final = (("1", "Yes"), ("2", "No"))
_NUMBER_TYPES: Final = {"Number": "double", "Date": "datetime"}


class Tables:
    """The synthetic lookup entities Autotask keeps beside the dataset's records."""

    def __init__(self) -> None:
        self.ci_types = Lookup(ASSET_TYPES)
        self.manufacturers = Lookup(MANUFACTURERS)
        self.countries: dict[str, int] = dict(COUNTRY_IDS)
        self.products: dict[tuple[str, str | None], int] = {}

    def country_id(self, name: str | None) -> int | None:
        if name is None:
            return None
        return self.countries.setdefault(name, stable_id(name))

    def product_id(self, manufacturer: str | None, kind: str | None) -> int | None:
        if manufacturer is None:
            return None
        key = (manufacturer, kind)
        found = self.products.get(key)
        if found is None:
            base = (self.manufacturers.id(manufacturer) or 0) * 100 + (self.ci_types.id(kind) or 0)
            found = self.products[key] = 10_000 + base
        return found

    def country_rows(self) -> list[Wire]:
        return [{"id": i, "countryCode": COUNTRY_CODES.get(n, n[:2].upper()), "displayName": n,
                 "name": n.upper(), "isActive": True, "isDefaultCountry": n == "United States",
                 "addressFormatID": 1, "invoiceTemplateID": None, "quoteTemplateID": None}
                for n, i in sorted(self.countries.items(), key=lambda kv: kv[1])]

    def ci_type_rows(self) -> list[Wire]:
        return [{"id": i, "name": n, "isActive": True} for i, n in self.ci_types.items()]

    def product_rows(self) -> list[Wire]:
        for manufacturer in MANUFACTURERS:
            for kind in ASSET_TYPES:
                self.product_id(manufacturer, kind)
        rows = [{"id": i, "name": f"{m} {k or 'Device'}", "description": None,
                 "manufacturerName": m, "manufacturerProductName": f"{m} {k or 'Device'}",
                 "isActive": True, "isSerialized": True, "sku": f"SKU-{i}", "unitCost": None,
                 "unitPrice": None, "productCategory": None, "productBillingCodeID": None}
                for (m, k), i in self.products.items()]
        return sorted(rows, key=lambda r: r["id"])


def _udf_value(d: CustomFieldDef, value: CustomValue) -> str | None:
    if value is None:
        return None
    if d.type == "Checkbox":
        return YES_NO[0][0] if value else YES_NO[1][0]
    if isinstance(value, date):
        return day(value)
    return str(value)


def _udfs(defs: Sequence[CustomFieldDef], values: Mapping[str, CustomValue]) -> list[Wire]:
    return [{"name": d.caption, "value": _udf_value(d, values.get(d.caption))} for d in defs]


def udf_definitions(defs: Sequence[CustomFieldDef]) -> list[Wire]:
    out = []
    for d in defs:
        listed = d.type == "Checkbox"
        out.append({
            "name": d.caption, "label": d.caption, "type": _NUMBER_TYPES.get(d.type, "string"),
            "length": 0 if d.type in _NUMBER_TYPES else 100, "description": None,
            "isRequired": False, "isReadOnly": False, "isQueryable": True,
            "isReference": False, "referenceEntityType": "", "isPickList": listed,
            "picklistValues": [picklist_value(v, label, sort_order=n)
                               for n, (v, label) in enumerate(YES_NO, start=1)] if listed else None,
            "picklistParentValueField": "", "defaultValue": None,
            "isSupportedWebhookField": False})
    return out


def picklist_value(value: int | str, label: str, *, sort_order: int = 0, default: bool = False,
                   active: bool = True, system: bool = False) -> Wire:
    return {"value": str(value), "label": label, "isDefaultValue": default, "sortOrder": sort_order,
            "parentValue": "", "isActive": active, "isSystem": system}


def status_ids(ds: Dataset) -> dict[str, int]:
    """Autotask ticket statuses are global: one value per distinct name (its lowest id)."""
    out: dict[str, int] = {}
    for status in ds.records("ticket_statuses"):
        out.setdefault(status.name, status.id)
    return out


class Renderer:
    """Dataset records → Autotask wire records."""

    def __init__(self, ds: Dataset, tables: Tables) -> None:
        self.ds = ds
        self.t = tables

    def company(self, c: Company) -> Wire:
        status = self.ds.company_statuses.get(c.status_id) if c.status_id is not None else None
        return {
            "id": c.id, "companyName": c.name, "companyNumber": c.identifier,
            "companyType": c.type_ids[0] if c.type_ids else None,
            "companyCategoryID": 1, "classification": None,
            "isActive": not (status is not None and status.inactive),
            "webAddress": c.website, "phone": c.phone, "fax": "", "alternatePhone1": "",
            "alternatePhone2": "", "address1": c.line1, "address2": c.line2, "city": c.city,
            "state": c.region_code, "postalCode": c.postal_code,
            "countryID": self.t.country_id(c.country), "additionalAddressInformation": "",
            "ownerResourceID": 29682885, "parentCompanyID": None, "isClientPortalActive": False,
            "isTaskFireActive": False, "isTaxExempt": False, "taxID": "",
            "createDate": ts(c.created_at), "lastActivityDate": ts(c.updated_at),
            "lastTrackedModifiedDateTime": ts(c.updated_at), "userDefinedFields": [],
        }

    def location(self, s: Site) -> Wire:
        return {
            "id": s.id, "companyID": s.company_id, "name": s.name,
            "isActive": s.active, "isPrimary": s.primary, "isTaxExempt": False,
            "overrideCompanyTaxSettings": False, "address1": s.line1, "address2": s.line2,
            "city": s.city, "state": s.region, "postalCode": s.postal_code,
            "countryID": self.t.country_id(s.country), "phone": s.phone, "fax": "",
            "alternatePhone1": "", "alternatePhone2": "", "roundtripDistance": None,
            "taxRegionID": None,
        }

    def configuration_item(self, a: Asset) -> Wire:
        udfs = _udfs(self.ds.asset_fields, a.custom_fields)
        udfs.append({"name": PURCHASE_DATE_UDF, "value": day(a.purchase_date)})
        return {
            "id": a.id, "companyID": a.company_id, "companyLocationID": None, "contactID": None,
            "referenceTitle": a.name, "referenceNumber": None, "serialNumber": a.serial_number,
            "configurationItemType": self.t.ci_types.id(a.type),
            "configurationItemCategoryID": 1,
            "productID": self.t.product_id(a.manufacturer, a.type),
            "isActive": a.status not in ("Inactive", "Retired"),
            "installDate": ts(a.created_at), "warrantyExpirationDate": day(a.warranty_expiration),
            "notes": a.notes, "rmmDeviceAuditOperatingSystem": a.os_type,
            "rmmDeviceAuditManufacturerID": None, "location": None,
            "parentConfigurationItemID": None,
            "createDate": ts(a.created_at), "lastModifiedTime": ts(a.updated_at),
            "lastActivityPersonID": 29682885, "lastActivityPersonType": 1,
            "userDefinedFields": udfs,
        }

    def contact(self, c: Contact) -> Wire:
        return {
            "id": c.id, "companyID": c.company_id, "companyLocationID": None,
            "firstName": c.first_name, "lastName": c.last_name, "middleInitial": None,
            "title": c.title, "emailAddress": c.email, "emailAddress2": None,
            "emailAddress3": None, "phone": c.phone, "mobilePhone": None, "alternatePhone": "",
            "extension": None, "faxNumber": None, "addressLine": c.line1, "addressLine1": c.line2,
            "city": c.city, "state": c.region, "zipCode": c.postal_code,
            "countryID": self.t.country_id(c.country), "isActive": 1 if c.active else 0,
            "primaryContact": False, "note": None,
            "createDate": ts(c.created_at), "lastActivityDate": ts(c.updated_at),
            "lastModifiedDate": ts(c.updated_at),
            "userDefinedFields": _udfs(self.ds.contact_fields, c.custom_fields),
        }

    def ticket(self, t: Ticket, statuses: Mapping[str, int]) -> Wire:
        status = self.ds.ticket_statuses.get(t.status_id) if t.status_id is not None else None
        return {
            "id": t.id, "ticketNumber": ticket_number(t), "title": t.summary,
            "description": None, "companyID": t.company_id, "companyLocationID": None,
            "contactID": t.contact_id, "queueID": t.board_id,
            "status": statuses.get(status.name) if status is not None else None,
            "priority": t.priority_id, "issueType": None, "subIssueType": None, "ticketType": 1,
            "source": 2, "assignedResourceID": None, "assignedResourceRoleID": None,
            "createDate": ts(t.created_at), "completedDate": ts(t.updated_at) if t.closed else None,
            "lastActivityDate": ts(t.updated_at),
            "lastTrackedModificationDateTime": ts(t.updated_at), "userDefinedFields": [],
        }


def ticket_number(t: Ticket) -> str:
    return f"T{t.created_at:%Y%m%d}.{t.id % 10000:04d}"


# --- query filters ----------------------------------------------------------------------------


class Field(NamedTuple):
    get: Callable[[Any], Any]
    kind: str
    """"int", "str", "bool" or "datetime"."""
    name: str = ""


_OPS: Final = frozenset({"eq", "noteq", "gt", "gte", "lt", "lte", "beginswith", "endswith",
                         "contains", "exist", "notexist", "in", "notin"})


def _key(mapping: Mapping[str, Any], name: str) -> Any:
    """A JSON key looked up case-insensitively (Autotask ignores key case)."""
    if name in mapping:
        return mapping[name]
    folded = name.lower()
    return next((v for k, v in mapping.items() if k.lower() == folded), None)


def _coerce(value: Any, kind: str, name: str) -> Any:
    if value is None:
        return None
    try:
        if kind == "int":
            if isinstance(value, bool) or str(value).lower() in ("true", "false"):
                # An integer flag (contact isActive is 0/1) compared with a boolean: coerced.
                return int(value is True or str(value).lower() == "true")
            return int(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false", "1", "0"):
                return str(value).lower() in ("true", "1")
            raise ValueError
        if kind == "datetime":
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        return str(value).casefold()
    except ValueError:
        raise QueryError(f"The value '{value}' is not valid for field {name}.") from None


def _norm(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "str":
        return str(value).casefold()
    if kind == "int" and isinstance(value, bool):
        return int(value)
    return value


class FilterCompiler:
    def __init__(self, fields: Mapping[str, Field], entity: str,
                 udf: Callable[[str], Field] | None) -> None:
        self.fields = fields
        self.entity = entity
        self.udf = udf

    def compile(self, node: Any) -> Predicate:
        if not isinstance(node, dict):
            raise QueryError("Each filter must be an object.")
        op = str(_key(node, "op") or "").lower()
        if op in ("and", "or"):
            items = _key(node, "items")
            if not isinstance(items, list) or not items:
                raise QueryError(f"The '{op}' filter needs items.")
            parts = [self.compile(item) for item in items]
            if op == "and":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        if op not in _OPS:
            raise QueryError(f"The operator '{op}' is not supported.")
        return self.comparison(op, node)

    def field(self, name: str, is_udf: bool) -> Field:
        if is_udf:
            if self.udf is None:
                raise QueryError(f"The {self.entity} entity has no user-defined fields.")
            return self.udf(name)
        found = self.fields.get(name.lower())
        if found is None:
            raise QueryError(f"Unable to find the field {name} in the {self.entity} entity.")
        return found

    def comparison(self, op: str, node: Mapping[str, Any]) -> Predicate:
        name = _key(node, "field")
        if not isinstance(name, str) or not name:
            raise QueryError("A filter needs a field.")
        get, kind, _ = self.field(name, bool(_key(node, "udf")))
        if op == "exist":
            return lambda r: get(r) not in (None, "")
        if op == "notexist":
            return lambda r: get(r) in (None, "")
        raw = _key(node, "value")
        if op in ("in", "notin"):
            if not isinstance(raw, list):
                raise QueryError(f"The '{op}' operator needs a list of values.")
            wanted = frozenset(_coerce(v, kind, name) for v in raw)
            if op == "in":
                return lambda r: _norm(get(r), kind) in wanted
            return lambda r: _norm(get(r), kind) not in wanted
        value = _coerce(raw, kind, name)
        if op in ("beginswith", "endswith", "contains"):
            text = str(raw).casefold()
            test: Callable[[str], bool] = {
                "beginswith": lambda v: v.startswith(text),
                "endswith": lambda v: v.endswith(text),
                "contains": lambda v: text in v}[op]
            return lambda r: (v := get(r)) is not None and test(str(v).casefold())
        if op == "eq":
            return lambda r: _norm(get(r), kind) == value
        if op == "noteq":
            return lambda r: _norm(get(r), kind) != value
        if value is None:
            raise QueryError(f"The '{op}' operator needs a value.")
        compare: Callable[[Any, Any], bool] = {
            "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b}[op]
        return lambda r: (v := _norm(get(r), kind)) is not None and compare(v, value)


def _id_bound(node: Any) -> Bound | None:
    if not isinstance(node, dict) or str(_key(node, "field") or "").lower() != "id":
        return None
    if _key(node, "udf"):
        return None
    value = _key(node, "value")
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return {"gt": (number + 1, None), "gte": (number, None), "lt": (None, number - 1),
            "lte": (None, number), "eq": (number, number)}.get(str(_key(node, "op")).lower())


def plan_filter(items: Any, compiler: FilterCompiler) -> Plan:
    if not isinstance(items, list) or not items:
        raise QueryError("A query needs a filter: at least one filter expression is required.")
    bounds: list[Bound] = []
    rest = []
    for node in items:
        bound = _id_bound(node)
        if bound is None:
            rest.append(compiler.compile(node))
        else:
            bounds.append(bound)
    low, high = narrowed(bounds)
    residual: Predicate | None = None
    if len(rest) == 1:
        residual = rest[0]
    elif rest:
        residual = lambda r: all(p(r) for p in rest)  # noqa: E731
    return Plan(low, high, residual)


# --- resources --------------------------------------------------------------------------------


_BLANK_RECORDS: Final = {entity: dict.fromkeys(names) for entity, names in ENTITY_FIELDS.items()}
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


# --- request handling -------------------------------------------------------------------------


class Target(NamedTuple):
    """A parsed API path: ``/{zone}/ATServicesRest/V1.0/{tail}``."""

    zone: str
    tail: tuple[str, ...]

    @property
    def endpoint(self) -> str:
        return self.tail[0].lower() if self.tail else ""

    @property
    def prefix(self) -> str:
        return (f"/{self.zone}" if self.zone else "") + "/ATServicesRest/V1.0"


def parse_target(path: str) -> Target | None:
    parts = [p for p in path.split("/") if p]
    for i in range(len(parts) - 1):
        if parts[i].lower() == "atservicesrest" and parts[i + 1].lower() == "v1.0":
            return Target("/".join(parts[:i]), tuple(parts[i + 2:]))
    return None


def _no_resource(request: web.Request) -> web.Response:
    return at_error(404, f"No resource was found that matches the request URI '{request.path}'.")


def _method_not_allowed(method: str) -> web.Response:
    return _json({"Message": f"The requested resource does not support http method '{method}'."},
                 status=405)


class Page(NamedTuple):
    ids: list[int]
    more_after: bool
    more_before: bool


class Api:
    def __init__(self, ds: Dataset, config: AtConfig, state: AtState) -> None:
        self.ds = ds
        self.config = config
        self.state = state
        self.tables = Tables()
        self.resources = resources(ds, self.tables)

    # -- dispatch -----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        target = parse_target(request.path)
        if target is None or not target.tail:
            return _no_resource(request)
        if target.endpoint == "zoneinformation":
            return self.zone_information(request)
        if target.endpoint == "thresholdinformation":
            if request.method != "GET":
                return _method_not_allowed(request.method)
            return _json(self.state.budget.info())
        resource = self.resources.get(target.endpoint)
        if resource is None:
            return _no_resource(request)
        try:
            return await self.resource(request, target, resource)
        except QueryError as err:
            return at_error(500, str(err))
        except _MethodNotAllowed:
            return _method_not_allowed(request.method)

    async def resource(self, request: web.Request, target: Target,
                       resource: Resource) -> web.Response:
        rest = [p.lower() for p in target.tail[1:]]
        method = request.method
        if rest in (["query"], ["query", "next"], ["query", "count"]):
            if method not in ("GET", "POST"):
                return _method_not_allowed(method)
            body = await self.query_body(request, rest == ["query", "next"])
            if rest == ["query", "count"]:
                return self.count(resource, body)
            return self.query(request, target, resource, body, rest == ["query", "next"])
        if method != "GET":
            return _method_not_allowed(method)
        if rest == ["entityinformation"]:
            return _json({"info": self.entity_info(resource)})
        if rest == ["entityinformation", "fields"]:
            return _json({"fields": self.field_info(resource)})
        if rest == ["entityinformation", "userdefinedfields"]:
            return _json({"fields": resource.udf_defs() if resource.udf_defs else []})
        if len(rest) == 1 and rest[0].isdigit():
            ids, table = resource.rows()
            record = table.get(int(rest[0]))
            return _json({"item": None if record is None else self.wire(resource, record)})
        return _no_resource(request)

    # -- queries ------------------------------------------------------------------------

    async def query_body(self, request: web.Request, is_next: bool) -> Mapping[str, Any]:
        if request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                raise QueryError("The request body is not valid JSON.") from None
            self.state.bodies.append((request.method, request.path, body))
        else:
            if is_next and "search" not in request.query:
                raise _MethodNotAllowed()
            try:
                body = json.loads(request.query.get("search", ""))
            except ValueError:
                raise QueryError("The search parameter is not valid JSON.") from None
        if not isinstance(body, dict):
            raise QueryError("The query must be a JSON object.")
        return body

    def plan(self, resource: Resource, body: Mapping[str, Any]) -> Plan:
        return plan_filter(_key(body, "filter"),
                           FilterCompiler(resource.fields, resource.name, resource.udf))

    def count(self, resource: Resource, body: Mapping[str, Any]) -> web.Response:
        plan = self.plan(resource, body)
        ids, table = resource.rows()
        start, stop = plan.bounds(ids)
        if plan.residual is None:
            return _json({"queryCount": stop - start})
        residual = plan.residual
        return _json({"queryCount": sum(1 for i in ids[start:stop] if residual(table[i]))})

    def query(self, request: web.Request, target: Target, resource: Resource,
              body: Mapping[str, Any], is_next: bool) -> web.Response:
        plan = self.plan(resource, body)
        paging = self.paging(request) if is_next else {}
        size = paging.get("pageSize") or self.max_records(body)
        ids, table = resource.rows()
        if paging.get("nextIds", -1) == -1 and paging.get("previousIds", -1) != -1:
            page = self.page_before(ids, table, plan, paging["previousIds"], size)
        else:
            page = self.page_after(ids, table, plan, paging.get("nextIds", -1), size)
        include = self.include_fields(body)
        items = [self.wire(resource, table[i], include) for i in page.ids]
        search = request.query.get("search") if request.method == "GET" else None

        def link(token: Mapping[str, object]) -> str:
            url = (f"{request.scheme}://{request.host}{target.prefix}/{resource.name}/query/next"
                   f"?paging={quote(_dumps(token), safe='')}")
            return url + (f"&search={quote(search, safe='')}" if search else "")

        details = {
            "count": len(items), "requestCount": size,
            "prevPageUrl": link({"pageSize": size, "previousIds": [page.ids[0]],
                                 "nextIds": [-1]})
            if page.ids and page.more_before else None,
            "nextPageUrl": link({"pageSize": size, "previousIds": [page.ids[0]],
                                 "nextIds": [page.ids[-1]]})
            if page.ids and page.more_after else None,
        }
        return _json({"items": items, "pageDetails": details})

    @staticmethod
    def max_records(body: Mapping[str, Any]) -> int:
        raw = _key(body, "MaxRecords")
        if raw is None:
            return MAX_RECORDS
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_RECORDS:
            raise QueryError(f"MaxRecords must be between 1 and {MAX_RECORDS}.")
        return raw

    @staticmethod
    def include_fields(body: Mapping[str, Any]) -> frozenset[str] | None:
        raw = _key(body, "IncludeFields")
        if not raw:
            return None
        if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
            raise QueryError("IncludeFields must be a list of field names.")
        return frozenset(f.lower() for f in raw) | {"id"}

    @staticmethod
    def paging(request: web.Request) -> dict[str, int]:
        """``{"pageSize": 500, "previousIds": [-1], "nextIds": [725]}``, as Autotask's own
        ``nextPageUrl`` carries it (one id each for a query without sorting)."""
        try:
            token = json.loads(request.query.get("paging", ""))
            out = {"pageSize": int(token["pageSize"])}
            for key in ("previousIds", "nextIds"):
                if key in token:
                    out[key] = int(token[key][0])
            return out
        except (ValueError, AttributeError, TypeError, KeyError, IndexError):
            raise QueryError("The paging information is not valid.") from None

    @staticmethod
    def _matches(table: Mapping[int, Any], plan: Plan) -> Callable[[int], bool]:
        residual = plan.residual
        return (lambda i: True) if residual is None else (lambda i: residual(table[i]))

    def page_after(self, ids: Sequence[int], table: Mapping[int, Any], plan: Plan, after: int,
                   size: int) -> Page:
        start, stop = plan.bounds(ids)
        first = max(start, bisect_right(ids, after))
        match = self._matches(table, plan)
        found: list[int] = []
        position = first
        for position in range(first, stop):
            if match(ids[position]):
                if len(found) == size:
                    return Page(found, True, self._any(ids, start, first, match))
                found.append(ids[position])
        return Page(found, False, self._any(ids, start, first, match))

    def page_before(self, ids: Sequence[int], table: Mapping[int, Any], plan: Plan, before: int,
                    size: int) -> Page:
        start, stop = plan.bounds(ids)
        last = min(stop, bisect_left(ids, before))
        match = self._matches(table, plan)
        found: list[int] = []
        for position in range(last - 1, start - 1, -1):
            if match(ids[position]):
                if len(found) == size:
                    found.reverse()
                    return Page(found, True, True)
                found.append(ids[position])
        found.reverse()
        return Page(found, True, False)

    @staticmethod
    def _any(ids: Sequence[int], lo: int, hi: int, match: Callable[[int], bool]) -> bool:
        """Whether a match lies in ``ids[lo:hi]``, searched from the end (the previous page)."""
        return any(match(ids[p]) for p in range(hi - 1, lo - 1, -1))

    def wire(self, resource: Resource, record: Any,
             include: frozenset[str] | None = None) -> Wire:
        blank = _BLANK_RECORDS.get(resource.name)
        wire = resource.render(record) if blank is None else {**blank, **resource.render(record)}
        if resource.overrides is not None:
            overrides = self.ds.overrides(resource.overrides, record.id)
            if overrides:
                wire = apply_overrides(dict(wire), overrides)
        if include is not None:
            wire = {k: v for k, v in wire.items() if k.lower() in include}
        return wire

    # -- metadata -------------------------------------------------------------------------

    @staticmethod
    def entity_info(resource: Resource) -> Wire:
        return {"name": singular(resource.name),
                "canCreate": True, "canDelete": False, "canQuery": True, "canUpdate": True,
                "userAccessForCreate": "All", "userAccessForDelete": "None",
                "userAccessForQuery": "All", "userAccessForUpdate": "All",
                "hasUserDefinedFields": resource.udf_defs is not None,
                "supportsWebhookCallouts": resource.name in ("Companies", "Contacts", "Tickets",
                                                             "ConfigurationItems")}

    @staticmethod
    def field_info(resource: Resource) -> list[Wire]:
        picklists = resource.picklists() if resource.picklists else {}
        types = {"int": "integer", "str": "string", "bool": "boolean", "datetime": "datetime"}
        known = {name.lower(): name for name in picklists}
        out = []
        for lowered, found in resource.fields.items():
            name = known.get(lowered, found.name or lowered)
            values = picklists.get(name)
            out.append({"name": name, "dataType": types[found.kind], "length": 0,
                        "isRequired": lowered == "id", "isReadOnly": lowered == "id",
                        "isQueryable": True,
                        "isReference": lowered.endswith("id") and lowered != "id",
                        "referenceEntityType": "", "isPickList": values is not None,
                        "picklistValues": values, "picklistParentValueField": "",
                        "isSupportedWebhookField": False})
        for name, values in picklists.items():
            if name.lower() not in resource.fields:
                out.append({"name": name, "dataType": "integer", "length": 0, "isRequired": False,
                            "isReadOnly": False, "isQueryable": True, "isReference": False,
                            "referenceEntityType": "", "isPickList": True,
                            "picklistValues": values, "picklistParentValueField": "",
                            "isSupportedWebhookField": False})
        return out

    # -- zones -----------------------------------------------------------------------------

    def zone_information(self, request: web.Request) -> web.Response:
        if request.method != "GET":
            return _method_not_allowed(request.method)
        user = request.query.get("user", "")
        if user.casefold() != self.config.username.casefold():
            return at_error(500, "Zone information could not be determined")
        zone = self.state.zone
        root = f"{request.scheme}://{request.host}"
        number = "".join(ch for ch in zone if ch.isdigit())
        return _json({"zoneName": f"Simulated zone {number or zone}",
                      "url": f"{root}/{zone}/ATServicesRest/",
                      "webUrl": f"{root}/ww{number}/", "ci": 1234567})


class _MethodNotAllowed(Exception):
    pass


# --- the gate: auth, zone, request threshold, thread limit -------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refusal(request: web.Request, config: AtConfig, state: AtState,
             target: Target) -> web.Response | None:
    headers = request.headers
    user = headers.get("UserName", "")
    if user.casefold() != config.username.casefold():
        return at_error(500, "Unable to authenticate: the UserName does not belong to an "
                             "API user of this database.")
    if headers.get("ApiIntegrationCode", "") != config.integration_code:
        return at_error(500, "The ApiIntegrationCode is missing or is not a valid tracking "
                             "identifier.")
    if headers.get("Secret", "") != config.secret:
        return at_error(401, "Authentication failed: the UserName or Secret is not valid.")
    if target.zone != state.zone:
        return at_error(401, "The user is not authorized for this zone; look up the zone with "
                             "zoneInformation.")
    return None


def gate_middleware(config: AtConfig, state: AtState) -> Middleware:
    @web.middleware
    async def autotask_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        target = parse_target(request.path)
        if target is None or target.endpoint in ("", "zoneinformation"):
            return await handler(request)
        refusal = _refusal(request, config, state, target)
        if refusal is not None:
            return refusal
        counted = target.endpoint != "thresholdinformation"
        if counted and not state.budget.admit():
            limit = state.budget.limit
            return at_error(429, f"The request threshold of {limit} requests per "
                                 f"{max(1, round(state.budget.window / 60))} minutes has been "
                                 "exceeded for this database; requests are refused until usage "
                                 "drops.")
        code = request.headers.get("ApiIntegrationCode", "")
        if not state.threads.enter(code, target.endpoint):
            return at_error(429, f"API thread threshold of {state.threads.limit} threads has been "
                                 f"exceeded for the {target.tail[0]} endpoint.")
        try:
            if counted:
                await _usage_latency(state.budget.share(), config.usage_latency)
            return await handler(request)
        finally:
            state.threads.leave(code, target.endpoint)

    return autotask_gate


async def _usage_latency(share: float, latency: tuple[float, float]) -> None:
    delay = latency[1] if share >= 0.75 else latency[0] if share >= 0.5 else 0.0
    if delay > 0:
        await asyncio.sleep(delay)


# --- Autotask-specific control routes ---------------------------------------------------------


async def _move_zone(request: web.Request) -> web.Response:
    body = await request.json()
    zone = str(body.get("zone", "")).strip("/")
    if not zone or "/" in zone:
        return _json({"error": "zone must be a single path segment"}, status=400)
    request.app[STATE_KEY].zone = zone
    return web.Response(status=204)


async def _add_usage(request: web.Request) -> web.Response:
    body = await request.json()
    try:
        request.app[STATE_KEY].budget.add_external(int(body["requests"]))
    except (KeyError, TypeError, ValueError) as err:
        return _json({"error": f"bad usage: {err}"}, status=400)
    return _json(request.app[STATE_KEY].budget.info())


# --- app factory --------------------------------------------------------------------------------


def create_app(
    dataset: Dataset,
    *,
    username: str = DEMO_USERNAME,
    secret: str = DEMO_SECRET,
    integration_code: str = DEMO_INTEGRATION_CODE,
    zone: str = DEFAULT_ZONE,
    request_threshold: int = REQUEST_THRESHOLD,
    threshold_window: float = THRESHOLD_WINDOW,
    thread_limit: int = THREAD_LIMIT,
    usage_latency: tuple[float, float] = USAGE_LATENCY,
    clock: Clock | None = None,
    faults: Faults | None = None,
) -> web.Application:
    """The Autotask REST API over ``dataset``; ``clock`` drives the request threshold window."""
    config = AtConfig(username, secret, integration_code, usage_latency)
    state = AtState(zone=zone.strip("/"),
                    budget=RequestBudget(request_threshold, threshold_window,
                                         clock or time.monotonic),
                    threads=ThreadGate(thread_limit))
    app = simulator_app(dataset, faults, at_error_body, gate_middleware(config, state),
                        vendor_before_faults=True)
    app[CONFIG_KEY] = config
    app[STATE_KEY] = state
    api = Api(dataset, config, state)
    app.router.add_post("/_sim/autotask/zone", _move_zone)
    app.router.add_post("/_sim/autotask/usage", _add_usage)
    add_control_routes(app)
    app.router.add_route("*", "/{path:.*}", api.handle)
    return app

