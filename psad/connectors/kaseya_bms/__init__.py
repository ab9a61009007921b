"""Kaseya BMS REST API v2 (``https://api.bms.kaseya.com/v2/``; EMEA, APAC and
vorexlogin hosts alike).

Wire facts confirmed in the BMS API 2.0 OpenAPI document harvested from
``api.bms.kaseya.com/swagger/v2/swagger.json`` (api-evangelist/kaseya
``openapi/kaseya-bms-openapi-original.json``), in a client that runs against
the real API (jc3k/M-Code-PowerQuery-for-Kaseya-BMS-API ``Auth_Query.m``,
``GetPagedData.m``, ``Record_Count_Template.m``) and in Kaseya's help:

- Auth: ``POST /v2/security/authenticate`` with a form (``GrantType=password``,
  ``UserName``, ``Password``, ``Tenant``) answers ``accessToken``,
  ``refreshToken``, ``accessTokenExpireOn``, ``refreshTokenExpireOn``; calls
  then carry ``Authorization: Bearer``. ``POST /v2/security/refreshtoken``
  (form ``AccessToken``, ``RefreshToken``) renews the pair. The spec says
  multipart, jc3k posts url-encoded; psad posts url-encoded.
- Envelope: ``{success, error: {code, message, details, stackStrace,
  subErrors}, result}``, plus ``totalRecords`` on paged lists only (accounts
  and contacts summary, ticket search). camelCase on the wire, PascalCase in
  the spec: both are read.
- Paging: ``PageSize`` and ``PageNumber`` query parameters (in the JSON body for
  ``POST`` searches), filters as ``Filter.<Name>``.
- Companies: ``GET /v2/crm/accounts/summary`` (``Filter.ModifiedOnFrom``),
  each account embedding ``locations[]`` with ``addresses[]`` (the sites).
  Cheap id listing: ``GET /v2/crm/accounts/lookup`` (``id, name, tenantName,
  isActive``) with ``Filter.WithInactiveAccounts=true``.
- Company types: ``GET /v2/system/accounttypes/lookup`` (``id, name, isActive,
  isClient, isVendor``, no default flag); an account carries one
  ``accountTypeId``/``accountType``.
- Contacts: ``GET /v2/crm/contacts/summary`` (``Filter.ModifiedOnFrom``) with
  ``jobTitle``, ``isPoc``, ``isActive``, ``emails[]``/``phones[]`` with
  ``isDefault``, a ``locationId`` and no address or custom fields; custom
  fields come from ``GET /v2/system/customFields/{moduleId}/{objectId}`` as
  ``[{id, name, data, customFieldType, customFieldId}]``. Cheap id listing:
  ``GET /v2/crm/contacts/search``. A location is
  ``GET /v2/crm/accounts/{accountId}/locations/{locationId}``.
- Assets: ``GET /v2/servicedesk/hardwareasset/searchselect`` lists thin rows
  (no modified date, no changed-since filter, no ``totalRecords``); the fields
  come from ``GET /v2/servicedesk/hardwareasset/{assetId}``: ``name``,
  ``accountId``, ``category``, ``state``, ``manufacturer``, ``serialNumber``,
  ``osType``/``osInfo``, ``acquisitionDate``, ``warrantyExpirationDate``,
  ``description``. No custom fields. IT Glue's BMS field mapping (Kaseya help)
  pairs Category with type, Description with notes, OS Info with operating
  system, Acquisition Date with purchase date.
- Ticket set-up: ``/v2/system/queues/lookup`` (``id, name, isActive``),
  ``/v2/system/priorities/lookup`` (``id, name, color, isDefault``),
  ``/v2/system/statuses/lookup`` (``id, name, statusOrder, typeId, isActive``);
  none of them paged.
- Tickets: ``POST /v2/servicedesk/tickets/search`` with ``{PageSize,
  PageNumber, Filter: {AccountIds, QueueNames, StatusNames, PriorityNames,
  Title}}`` (the ``GET`` form is deprecated); filters take names, not ids.
  ``GET /v2/servicedesk/tickets/{ticketId}`` for one.
- Limit: "1500 calls per hour per endpoint" (help.bms.kaseya.com).

Inferred (unconfirmed; tolerant where cheap): pages are 1-based (jc3k's paged
loop starts at 1; a server that ignores ``PageNumber`` is detected); lists
end on a short page or at ``totalRecords``; the HTTP status follows
``error.code`` but a ``200`` with ``success: false`` is read as the failure it
reports (code 404 → not found); an expired token answers 401, which renews it
(refresh token first, then a fresh sign-in), and tokens are also renewed
shortly before ``accessTokenExpireOn``; throttling answers 429 with
``Retry-After`` (the shared client backs off); ``Filter.ModifiedOnFrom`` is
inclusive and date-times without a zone are UTC; ``Filter.IsActive`` absent
means all records; the contacts module id for custom fields is 2 (setting
``contact_custom_fields_module``); status ``typeId`` 3 means closed and a
ticket with a ``completedDate`` is closed; the UI opens a ticket at
``/MSP/TicketEdit.aspx?ID={id}`` on the API host without its ``api.`` prefix
(setting ``ui_url``); ``Title`` matches by substring; bare answers without the
envelope are accepted as the result.

Vendor gaps and how they map:
- Company status: BMS has only ``isActive`` → two derived statuses, "Active"
  (the default) and "Inactive"; the account type goes to ``types``.
- Site: BMS locations; the address is the location's main address.
- Asset: no custom fields → every selected asset field is None; OS type is
  ``osInfo`` (the OS name), falling back to ``osType`` (the platform).
- Contact: the type is "Point of Contact" when ``isPoc``, else None; the
  address is the contact's location's main address (refreshed when the
  contact changes or on a full sync); custom-field values are BMS's strings.
- Priority: no sort order → None. Ticket status: global (no board).
- Cost: assets take one call each and contact custom fields (only when
  selected) one call per contact, against the per-endpoint hourly limit. So a
  run reads an asset's details only when psad has none, when its list row
  (name, category, serial number, account) differs from what psad stored, or
  when its turn in the rolling refresh comes: a fixed 1/N of the assets each
  day (setting ``asset_detail_refresh_days``, default 7), so every asset is
  re-read within N days. The rest stand as stored; a change the list row does
  not show (notes, dates, state) arrives with the asset's refresh. The log
  says how many details were read and deferred.
"""

from __future__ import annotations

from psad.connectors.kaseya_bms.connector import KaseyaBmsConnector

__all__ = ["KaseyaBmsConnector"]
