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

import functools

from psad.simulators.connectwise.app import create_app
from psad.simulators.connectwise.config import DEFAULT_CLIENT_ID, VERSION_CODE
from psad.simulators.connectwise.wire import (
    render_board,
    render_board_status,
    render_company,
    render_company_status,
    render_configuration,
    render_contact,
    render_priority,
    render_site,
)
from psad.simulators.kind import SimulatorKind

SIMULATOR = SimulatorKind(
    kind="connectwise",
    create=functools.partial(create_app, company_id="psad-demo", public_key="demo-public",
                             private_key="demo-private-key", client_id=DEFAULT_CLIENT_ID),
    api_path="/v4_6_release/apis/3.0/",
    settings={"company_id": "psad-demo", "client_id": DEFAULT_CLIENT_ID},
    secrets={"public_key": "demo-public", "private_key": "demo-private-key"},
)
"""This simulator as :mod:`psad.simulators.serve` finds it through the PSA registry."""

__all__ = [
    "SIMULATOR",
    "DEFAULT_CLIENT_ID",
    "VERSION_CODE",
    "create_app",
    "render_board",
    "render_board_status",
    "render_company",
    "render_company_status",
    "render_configuration",
    "render_contact",
    "render_priority",
    "render_site",
]
