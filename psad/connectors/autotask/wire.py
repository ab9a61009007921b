"""Autotask's wire format: filters, timestamps, UDFs, and its JSON mapped to psad records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from psad.connectors import wire
from psad.connectors.wire import BadRecord
from psad.errors import PsaBadResponse
from psad.model import (
    Address,
    Asset,
    Board,
    Company,
    Contact,
    CustomFields,
    CustomValue,
    Entity,
    Priority,
    Site,
    TicketStatus,
)
from psad.progress import note_custom_fields

MAX_RECORDS: Final = 500
ACTIVE: Final = "Active"
INACTIVE: Final = "Inactive"
COMPLETE_STATUS: Final = "5"
MATCH_ALL: Final = {"op": "gte", "field": "id", "value": 0}

_ENTITIES: Final[dict[Entity, str]] = {
    Entity.COMPANY: "Companies",
    Entity.SITE: "CompanyLocations",
    Entity.ASSET: "ConfigurationItems",
    Entity.CONTACT: "Contacts",
}
_CHANGED: Final[dict[Entity, tuple[str, ...]]] = {
    Entity.COMPANY: ("lastTrackedModifiedDateTime", "lastActivityDate"),
    Entity.ASSET: ("lastModifiedTime",),
    Entity.CONTACT: ("lastModifiedDate", "lastActivityDate"),
}
_TICKET_PICKLISTS: Final[dict[Entity, str]] = {
    Entity.BOARD: "queueid",
    Entity.PRIORITY: "priority",
    Entity.TICKET_STATUS: "status",
}

Json = Mapping[str, Any]
Filter = dict[str, Any]


def at_timestamp(moment: datetime) -> str:
    """UTC with milliseconds, as Autotask writes it: ``2025-01-31T02:00:00.000Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- UDFs -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UdfDef:
    kind: str
    """"number", "date" or "text"."""
    labels: Mapping[str, str]
    """List UDFs: stored value → label."""


def _udf_kind(type_name: str) -> str:
    lowered = type_name.lower()
    if any(word in lowered for word in ("int", "double", "decimal", "number", "float", "long",
                                        "currency", "percent")):
        return "number"
    return "date" if "date" in lowered else "text"


def _udf_defs(body: Any) -> dict[str, UdfDef]:
    fields = wire.obj(body, "userDefinedFields").get("fields") or []
    if not isinstance(fields, list):
        raise BadRecord("fields: expected a list")
    out: dict[str, UdfDef] = {}
    for item in fields:
        d = wire.obj(item, "fields[]")
        name = wire.opt_text(d, "name")
        if name is None:
            continue
        labels = {str(v.get("value")): str(v.get("label")) for v in d.get("picklistValues") or []
                  if isinstance(v, dict) and v.get("label") is not None}
        out[name] = UdfDef(_udf_kind(str(d.get("type") or "")), labels)
    return out


def _udf_pairs(d: Json) -> list[tuple[str, Any]]:
    raw = d.get("userDefinedFields")
    if raw is None or raw == "":
        return []
    if isinstance(raw, dict):
        return list(raw.items())
    if not isinstance(raw, list):
        raise BadRecord("userDefinedFields: expected a list")
    return [(str(f["name"]), f.get("value")) for f in raw
            if isinstance(f, dict) and f.get("name") is not None]


def _number(text: str, where: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        raise BadRecord(f"{where}: not a number ({text[:30]!r})") from None
    return int(value) if value.is_integer() and "e" not in text.lower() else value


def udf_value(name: str, value: Any, definition: UdfDef | None) -> CustomValue:
    where = f"user-defined field {name!r}"
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        raise BadRecord(f"{where}: unsupported value {type(value).__name__}")
    if definition is None:
        return wire.custom_value(value, where)
    text = str(value).strip()
    if definition.labels:
        return definition.labels.get(text, text)
    if definition.kind == "number":
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) \
            else _number(text, where)
    if definition.kind == "date":
        parsed = wire.opt_date({where: text}, where)
        return parsed.isoformat() if parsed else None
    return wire.custom_value(text, where)


def _custom(pairs: Sequence[tuple[str, Any]], selected: Sequence[str],
            defs: Mapping[str, UdfDef]) -> CustomFields:
    note_custom_fields(n for n, v in pairs if v not in (None, ""))
    if not selected:
        return {}
    values = [(n, udf_value(n, v, defs.get(n))) for n, v in pairs if n in selected]
    return wire.pick_custom(values, selected)


# --- lookups


@dataclass(frozen=True, slots=True)
class Lookups:
    """Names that Autotask records carry only as ids."""

    countries: Mapping[str, str] | None = None
    company_types: Mapping[str, str] | None = None
    ci_types: Mapping[str, str] | None = None
    products: Mapping[str, str] | None = None
    udfs: Mapping[str, UdfDef] | None = None


def ref(d: Json, key: str) -> str | None:
    """An id reference; unlike :func:`wire.opt_id`, 0 is a real id (the MSP's own company)."""
    return None if d.get(key) is None else wire.psa_id(d, key)


def _name(names: Mapping[str, str] | None, d: Json, key: str) -> str | None:
    value = ref(d, key)
    if value is None or names is None:
        return None
    return names.get(value)


def _picklist(fields: Mapping[str, list[Json]], name: str) -> list[Json]:
    return fields.get(name.lower(), [])


def _labels(entries: Iterable[Json]) -> dict[str, str]:
    return {str(e.get("value")): str(e.get("label")) for e in entries
            if e.get("value") is not None and e.get("label") is not None}


# --- wire → model


def _errors(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return "; ".join(str(e) for e in body["errors"][:3]) or "no detail"
    return str(body)[:200] if body else "no detail"


def _query_result(body: Any, entity: str) -> tuple[list[Any], str | None]:
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise PsaBadResponse(f"POST {entity}/query: expected {{items, pageDetails}}")
    details = body.get("pageDetails")
    next_url = details.get("nextPageUrl") if isinstance(details, dict) else None
    return body["items"], next_url if isinstance(next_url, str) and next_url else None


def _active(d: Json) -> str:
    return ACTIVE if wire.flag(d, "isActive", default=True) else INACTIVE


def _person(d: Json) -> str | None:
    name = " ".join(p for p in (wire.opt_text(d, "firstName"), wire.opt_text(d, "lastName")) if p)
    return name or None


def _company(d: Json, lk: Lookups) -> Company:
    kind = wire.opt_int(d, "companyType")
    label = (lk.company_types or {}).get(str(kind)) if kind is not None else None
    return Company(
        psa_id=wire.psa_id(d),
        name=wire.text(d, "companyName"),
        website=wire.opt_text(d, "webAddress"),
        status=_active(d),
        types=(label,) if label else (),
    )


def _site(d: Json, lk: Lookups) -> Site:
    company = ref(d, "companyID")
    if company is None:
        raise BadRecord("companyID: a location needs its company")
    return Site(
        psa_id=wire.psa_id(d),
        company_psa_id=company,
        name=wire.text(d, "name"),
        active=wire.flag(d, "isActive", default=True),
        primary=wire.flag(d, "isPrimary"),
        address=Address(
            line1=wire.opt_text(d, "address1"),
            line2=wire.opt_text(d, "address2"),
            city=wire.opt_text(d, "city"),
            region=wire.opt_text(d, "state"),
            postal_code=wire.opt_text(d, "postalCode"),
            country=_name(lk.countries, d, "countryID"),
        ),
    )


def _asset(d: Json, lk: Lookups, selected: Sequence[str], purchase_udf: str | None) -> Asset:
    purchased = None
    udfs = _udf_pairs(d)
    if purchase_udf is not None:
        raw = dict(udfs).get(purchase_udf)
        purchased = wire.opt_date({purchase_udf: raw}, purchase_udf) if isinstance(raw, str) \
            else None
    return Asset(
        psa_id=wire.psa_id(d),
        company_psa_id=ref(d, "companyID"),
        name=wire.text(d, "referenceTitle"),
        status=_active(d),
        type=_name(lk.ci_types, d, "configurationItemType"),
        purchase_date=purchased,
        warranty_expiration=wire.opt_date(d, "warrantyExpirationDate"),
        serial_number=wire.opt_text(d, "serialNumber"),
        os_type=wire.opt_text(d, "rmmDeviceAuditOperatingSystem"),
        notes=wire.opt_text(d, "notes"),
        manufacturer=_name(lk.products, d, "productID"),
        custom_fields=_custom(udfs, selected, lk.udfs or {}),
    )


def _contact(d: Json, lk: Lookups, selected: Sequence[str]) -> Contact:
    first, last = wire.opt_text(d, "firstName"), wire.opt_text(d, "lastName")
    if first is None and last is None:
        raise BadRecord("firstName/lastName: a contact needs a name")
    return Contact(
        psa_id=wire.psa_id(d),
        company_psa_id=ref(d, "companyID"),
        first_name=first,
        last_name=last,
        type=None,
        title=wire.opt_text(d, "title"),
        email=wire.opt_text(d, "emailAddress"),
        phone=wire.opt_text(d, "phone") or wire.opt_text(d, "mobilePhone"),
        address=Address(
            line1=wire.opt_text(d, "addressLine"),
            line2=wire.opt_text(d, "addressLine1"),
            city=wire.opt_text(d, "city"),
            region=wire.opt_text(d, "state"),
            postal_code=wire.opt_text(d, "zipCode"),
            country=_name(lk.countries, d, "countryID"),
        ),
        active=wire.flag(d, "isActive", default=True),
        custom_fields=_custom(_udf_pairs(d), selected, lk.udfs or {}),
    )


def _board(d: Json) -> Board:
    return Board(psa_id=wire.psa_id(d, "value"), name=wire.text(d, "label"),
                 active=wire.flag(d, "isActive", default=True))


def _priority(d: Json) -> Priority:
    return Priority(psa_id=wire.psa_id(d, "value"), name=wire.text(d, "label"),
                    sort_order=wire.opt_int(d, "sortOrder"))


def _ticket_status(d: Json, closed_labels: frozenset[str]) -> TicketStatus:
    value = wire.psa_id(d, "value")
    name = wire.text(d, "label")
    return TicketStatus(psa_id=value, name=name, board_psa_id=None,
                        closed=value == COMPLETE_STATUS or name.casefold() in closed_labels,
                        sort_order=wire.opt_int(d, "sortOrder"))
