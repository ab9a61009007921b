"""HaloPSA REST API (``https://{host}/api/``), OAuth2 client credentials.

Wire facts this module relies on, confirmed in public sources:

- Token: ``POST {auth_url}/token`` (default ``https://{host}/auth/token``) with the form
  ``grant_type=client_credentials&client_id&client_secret&scope=all``; hosted tenants add
  ``?tenant={tenant}`` (n8n ``HaloPSA/GenericFunctions.ts`` getAuthUrl, homotechsual/HaloAPI
  ``Connect-HaloAPI.ps1``, CIPP ``Get-HaloToken``). The answer carries ``access_token``,
  ``token_type``, ``expires_in`` (n8n ``IHaloPSATokens``). Clients renew about 60 s before
  expiry (netaryx/pyhalopsa ``auth.py``; django-psa caches 3540 of 3600 s) and fetch a new
  token and retry once on a 401 (topleft-team/django-psa ``halo/api.py``).
- Paging: ``pageinate=true&page_size=N&page_no=M`` (1-based, note the spelling); the answer is
  ``{"record_count": N, "<key>": [...]}`` and clients stop once they hold ``record_count``
  records (n8n ``haloPSAApiRequestAllItems``, HaloAPI ``New-HaloGETRequest.ps1``). What a
  page past the end holds is not documented (inferred: empty, as the simulator answers; a
  client, django-psa ``sync/sync.py`` fetch_records, guards against a repeated page), so
  psad stops on ``record_count`` and on a repeated page, and never asks past the end.
  Once page 1 has told ``record_count``, the remaining pages are read several at a time
  (:mod:`psad.connectors.paging`).
  ``/Tickets`` caps ``page_size`` at 100 (covenanttechnologysolutions/halopsa-rest
  ``TicketsAPI.ts``); psad uses at most 100 everywhere.
- List keys: ``/Client`` → ``clients``, ``/Site`` → ``sites``, ``/Users`` → ``users``,
  ``/Asset`` → ``assets``, ``/Tickets`` → ``tickets``; ``/Team``, ``/Status``, ``/Priority``
  answer bare arrays (n8n node, django-psa ``ResponseKeyMixin`` users). Paths are
  case-insensitive (n8n mixes ``/client`` and ``/Client``).
- ``includeactive``/``includeinactive``, ``order``/``orderdesc``, ``idonly`` ("not compatible
  with pagination"), ``includeaddress`` on ``/Site`` and ``includeassetfields`` on ``/Asset``
  (halopsa-rest ``ClientAPI.ts``, ``AssetAPI.ts``; django-psa site sync).
- ``lastupdatefromdate`` takes a timestamp on ``/Tickets`` (django-psa ticket sync sends
  ``%Y-%m-%dT%H:%M:%S.%fZ``; a C# client sends ``2026-08-01T06:30:00``).
- Priorities come one row per SLA; ``id`` is an opaque string and tickets point at
  ``priorityid`` (django-psa ``priority/sync.py`` lookup_key).
- Site ``client_id`` and user ``site_id`` are JSON numbers with a fraction (``12.0``)
  (django-psa site sync; ProvisionData ``Site.g.cs``/``Users.g.cs`` type them Double).
- Site lists with ``includeaddress=true`` carry flat ``delivery_address_line1..5``
  (django-psa); single records carry ``delivery_address{line1..line4,postcode}``. Halo
  addresses (``AddressStore``) have no country (ProvisionData ``AddressStore.g.cs``).
- Users: ``firstname``, ``surname``, ``title``, ``emailaddress``, ``phonenumber``,
  ``mobilenumber``, ``inactive``, ``isimportantcontact``, ``primary_address``,
  ``customfields`` (ProvisionData ``Users.g.cs``). Clients: ``name``, ``website``,
  ``inactive``, ``toplevel_name``, ``main_site_id`` (n8n, django-psa client sync).
- Assets: ``inventory_number``, ``key_field``, ``client_id``, ``assettype_name``,
  ``status_name``, ``warranty_end``, ``notes``, ``manufacturer_name``, ``fields[]``,
  ``customfields[]`` (ProvisionData ``Asset.g.cs``). Asset-type fields such as
  "Serial Number" and "Purchase Date" live in ``fields[]`` (ProvisionData
  ``docs/CreateAsset.json``). Custom fields are ``{id, name, label, type, value, display}``
  (ProvisionData ``CustomField.g.cs``).
- Halo writes "no date" as 1900-01-01 (django-psa ``empty_date_parser``); psad reads any
  date before 1901 as none.
- Ticket filters ``client_id``, ``team`` (team ids), ``status_id``, ``priority`` (priority
  ids), ``search``; ``includestatus`` adds the status name (halopsa-rest ``TicketsAPI.ts``).
- Hosted tenants answer 429 "Rate Limit Reached - 300 Requests per rolling 5 minute window"
  (KelvinTegelaar/PowerShellWarrantyReports#51, homotechsual/HaloAPI#31).
- The agent UI opens a ticket at ``https://{host}/tickets?id={id}`` (several integrations
  and address-bar samples).

Inferred, and how psad stays correct if the guess is wrong:

- ``lastupdatefromdate`` on ``/Client``, ``/Users`` and ``/Asset``: the spec lists it there
  but types it bool. A tenant that ignores it answers a superset, which is still correct.
- Lists leave inactive rows out unless asked: psad always sends both include flags.
- ``idonly`` keeps the usual envelope; psad checks the ids it got against ``record_count``
  and pages through the full listing when they fall short.
- List payloads include ``customfields``; a tenant that omits them yields None for the
  selected fields. Selection matches a field's ``label``, its ``name``, or its name without
  Halo's ``CF`` prefix. Empty strings are read as none, midnight timestamps as dates.
- A status is closed when ``GET /Status?excludeclosed=true`` leaves it out (the parameter
  is in the spec; status rows carry no closed flag); Halo's built-in Closed status (id 9)
  is always closed.
- ``Retry-After`` on 429 is honoured when sent (the shared client), else back-off.
- Address lines: ``line3`` is the town, ``line4`` the county/region, ``line5`` of the flat
  list form the postcode.
- Ticket lists may lack ``priority_name``/``status_name``; names then come from
  ``/Priority`` and ``/Status``, cached for ten minutes.

Vendor gaps and how they are mapped:

- Company status: Halo has none. Two synthetic statuses, "Active" (the default, id
  ``active``) and "Inactive" (id ``inactive``), from ``client.inactive``.
- Company types: Halo's only grouping is the client's top level; ``types`` is
  ``(toplevel_name,)``.
- Site primary: no flag on the site; primary means ``client.main_site_id == site.id``.
  The client list is read once per run: a full companies fetch notes each client's
  main site and the sites fetch waits for it; after an incremental companies fetch
  (changed clients only) the sites fetch reads the list itself.
- Site and contact country: Halo addresses have none, so it stays empty.
- Contact type: Halo has none; "Important Contact" when ``isimportantcontact``, else none.
- Priority sort order: Halo has none; ``priorityid`` (1 is the most urgent) stands in.
- Ticket statuses are global in Halo (no board); boards are Halo teams.
- Sites are always fetched in full (their primary flag changes with the client), which
  doubles as their deletion sweep.
"""

from __future__ import annotations

from psad.connectors.halo.connector import HaloConnector

__all__ = ["HaloConnector"]
