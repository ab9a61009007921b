"""Dataset records rendered as Kaseya BMS v2 JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final

from psad.simulators import name_ids, stable_id
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
from psad.simulators.kaseya_bms.config import CLOSED_STATUS_TYPE, DECISION_MAKER, Wire


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
