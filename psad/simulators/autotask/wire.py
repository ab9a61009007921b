"""Dataset records rendered as Autotask REST entities, with the picklists and UDFs they use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Final

from psad.simulators import stable_id
from psad.simulators.autotask.config import PURCHASE_DATE_UDF, Wire
from psad.simulators.dataset import (
    ASSET_TYPES,
    MANUFACTURERS,
    Asset,
    Company,
    Contact,
    CustomFieldDef,
    CustomValue,
    Dataset,
    Site,
    Ticket,
)


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
