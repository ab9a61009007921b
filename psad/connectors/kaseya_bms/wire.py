"""Kaseya BMS's wire format: URLs, the response envelope, its JSON mapped to psad records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from psad.connectors import wire
from psad.connectors.wire import BadRecord
from psad.errors import PsaAuthError, PsaBadResponse, PsaNotFound
from psad.model import (
    Address,
    Asset,
    Board,
    Company,
    CompanyStatus,
    Contact,
    Entity,
    Priority,
    Site,
    TicketStatus,
)
from psad.progress import note_custom_fields

DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000
MAX_TICKET_PAGE_SIZE: Final = 500
MAX_PAGES: Final = 100_000
LOOKUP_TTL: Final = 300.0
LOCATION_CACHE_SIZE: Final = 20_000
EARLY_RENEWAL: Final = 60.0
DEFAULT_CONTACT_MODULE: Final = "2"
DEFAULT_REFRESH_DAYS: Final = 7
CLOSED_STATUS_TYPES: Final = frozenset({3})
POINT_OF_CONTACT: Final = "Point of Contact"
ACTIVE: Final = CompanyStatus(psa_id="active", name="Active", is_default=True)
INACTIVE: Final = CompanyStatus(psa_id="inactive", name="Inactive", is_default=False)
_REFUSED: Final = frozenset({400, 401, 403})

ACCOUNTS: Final = "crm/accounts/summary"
CONTACTS: Final = "crm/contacts/summary"
ASSET_ROWS: Final = "servicedesk/hardwareasset/searchselect"
LOOKUPS: Final[dict[str, str]] = {
    "queues": "system/queues/lookup",
    "priorities": "system/priorities/lookup",
    "statuses": "system/statuses/lookup",
}
ID_LISTS: Final[dict[Entity, tuple[str, dict[str, str]]]] = {
    Entity.COMPANY: ("crm/accounts/lookup", {"Filter.WithInactiveAccounts": "true"}),
    Entity.CONTACT: ("crm/contacts/search", {}),
    Entity.ASSET: (ASSET_ROWS, {}),
}


def bms_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def api_root(base_url: str) -> str:
    """The ``…/v2/`` root, whether the configured URL names it or stops at the host."""
    root = base_url if base_url.endswith("/") else base_url + "/"
    return root if root.endswith("/v2/") else root + "v2/"


def ui_root(api: str) -> str:
    parts = urlsplit(api)
    return urlunsplit((parts.scheme, parts.netloc.removeprefix("api."), "", "", ""))


# --- the envelope ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Envelope:
    result: Any
    total: int | None


def _key(body: Mapping[str, Any], name: str) -> Any:
    """A camelCase key, or its PascalCase twin."""
    if name in body:
        return body[name]
    return body.get(name[:1].upper() + name[1:])


def camel(value: Any) -> Any:
    """A record with PascalCase keys (as the spec writes them) in wire camelCase."""
    if isinstance(value, dict):
        if not any(k[:1].isupper() for k in value):
            return value
        return {k[:1].lower() + k[1:]: camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def unwrap(body: Any, what: str, *, status: int, integration: str) -> Envelope:
    """The ``result`` of a BMS answer; ``success: false`` becomes the matching error.

    A bare list or object (the spec shows a few by-id routes unwrapped) is taken as
    the result itself.
    """
    if isinstance(body, list):
        return Envelope(body, None)
    if not isinstance(body, dict):
        raise PsaBadResponse(f"{what}: expected the BMS envelope, got {type(body).__name__}",
                             status=status, integration=integration)
    if all(_key(body, k) is None for k in ("success", "error", "result")) and body:
        return Envelope(body, None)
    if _key(body, "success") is not True:
        error = _key(body, "error")
        error = error if isinstance(error, dict) else {}
        code = _key(error, "code")
        message = str(_key(error, "message") or "no message")
        text = f"{what}: BMS reported a failure" + (f" (code {code})" if code else "") + \
            f": {message}"
        if code == 404:
            raise PsaNotFound(text, integration=integration)
        if code in (401, 403):
            raise PsaAuthError(text, integration=integration)
        raise PsaBadResponse(text, status=status, body_excerpt=message[:200],
                             integration=integration)
    total = _key(body, "totalRecords")
    if isinstance(total, bool) or not isinstance(total, int):
        total = None
    return Envelope(_key(body, "result"), total)


def records(result: Any, what: str, integration: str) -> list[Any]:
    if result is None:
        return []
    if not isinstance(result, list):
        raise PsaBadResponse(f"{what}: expected a list in result, got {type(result).__name__}",
                             integration=integration)
    return [camel(item) for item in result]


# --- translation ---------------------------------------------------------------------------


def _company(d: Mapping[str, Any]) -> Company:
    account_type = wire.opt_text(d, "accountType")
    return Company(
        psa_id=wire.psa_id(d),
        name=wire.text(d, "accountName"),
        website=wire.opt_text(d, "website"),
        status=(ACTIVE if wire.flag(d, "isActive", default=True) else INACTIVE).name,
        types=(account_type,) if account_type else (),
    )


def _address(location: Mapping[str, Any]) -> Address:
    addresses = location.get("addresses") or []
    if not isinstance(addresses, list):
        raise BadRecord("addresses: expected a list")
    candidates = [a for a in addresses if isinstance(a, dict)]
    main = next((a for a in candidates if a.get("isMain") is True),
                candidates[0] if candidates else None)
    if main is None:
        return Address()
    return Address(
        line1=wire.opt_text(main, "address1"),
        line2=wire.opt_text(main, "address2"),
        city=wire.opt_text(main, "city"),
        region=wire.opt_text(main, "state"),
        postal_code=wire.opt_text(main, "zipCode"),
        country=wire.opt_text(main, "country"),
    )


def _site(d: Mapping[str, Any], company_id: str) -> Site:
    return Site(
        psa_id=wire.psa_id(d),
        company_psa_id=company_id,
        name=wire.text(d, "locationName"),
        active=wire.flag(d, "isActive", default=True),
        primary=wire.flag(d, "isMain"),
        address=_address(d),
    )


def _row_differs(row: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    """Whether an asset's list row shows something other than its stored record."""
    return (wire.opt_text(row, "assetName") != stored.get("name")
            or wire.opt_text(row, "categoryName") != stored.get("type")
            or wire.opt_text(row, "serialNumber") != stored.get("serial_number")
            or wire.opt_id(row, "accountId") != stored.get("company_psa_id"))


def _asset(d: Mapping[str, Any], selected: Sequence[str]) -> Asset:
    return Asset(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.opt_id(d, "accountId"),
        name=wire.text(d, "name"),
        status=wire.opt_text(d, "state"),
        type=wire.opt_text(d, "category"),
        purchase_date=wire.opt_date(d, "acquisitionDate"),
        warranty_expiration=wire.opt_date(d, "warrantyExpirationDate"),
        serial_number=wire.opt_text(d, "serialNumber"),
        os_type=wire.opt_text(d, "osInfo") or wire.opt_text(d, "osType"),
        notes=wire.opt_text(d, "description"),
        manufacturer=wire.opt_text(d, "manufacturer"),
        custom_fields=wire.pick_custom((), selected),
    )


def _default(d: Mapping[str, Any], key: str, value_key: str) -> str | None:
    """The default entry of ``emails``/``phones`` (else the first)."""
    items = d.get(key) or []
    if not isinstance(items, list):
        raise BadRecord(f"{key}: expected a list")
    entries = [i for i in items if isinstance(i, dict)]
    entries.sort(key=lambda i: i.get("isDefault") is not True)
    return wire.opt_text(entries[0], value_key) if entries else None


def _contact_custom(raw: list[Any] | str | None, selected: Sequence[str]) -> dict[str, Any]:
    if isinstance(raw, str):
        raise BadRecord(f"custom fields: {raw}")
    pairs = [(f["name"], f.get("data")) for f in raw or []
             if isinstance(f, dict) and isinstance(f.get("name"), str)]
    note_custom_fields(name for name, value in pairs if value not in (None, ""))
    return wire.pick_custom(pairs, selected)


def _contact(d: Mapping[str, Any], selected: Sequence[str], custom: list[Any] | str | None,
             address: Address) -> Contact:
    first, last = wire.opt_text(d, "firstName"), wire.opt_text(d, "lastName")
    if first is None and last is None:
        raise BadRecord("firstName/lastName: a contact needs a name")
    return Contact(
        psa_id=wire.psa_id(d),
        company_psa_id=wire.opt_id(d, "accountId"),
        first_name=first,
        last_name=last,
        type=POINT_OF_CONTACT if wire.flag(d, "isPoc") else None,
        title=wire.opt_text(d, "jobTitle"),
        email=_default(d, "emails", "emailAddress"),
        phone=_default(d, "phones", "phone"),
        address=address,
        active=wire.flag(d, "isActive", default=True),
        custom_fields=_contact_custom(custom, selected) if selected else {},
    )


def _board(d: Mapping[str, Any]) -> Board:
    return Board(psa_id=wire.psa_id(d), name=wire.text(d, "name"),
                 active=wire.flag(d, "isActive", default=True))


def _priority(d: Mapping[str, Any]) -> Priority:
    return Priority(psa_id=wire.psa_id(d), name=wire.text(d, "name"))


def _ticket_status(d: Mapping[str, Any]) -> TicketStatus:
    return TicketStatus(psa_id=wire.psa_id(d), name=wire.text(d, "name"),
                        closed=wire.opt_int(d, "typeId") in CLOSED_STATUS_TYPES,
                        sort_order=wire.opt_int(d, "statusOrder"))
