"""ConnectWise PSA (Manage) REST 3.0.

Wire facts this module relies on (see ``shared/psa-apis.md`` §1):
- Auth: ``Authorization: Basic base64("{companyId}+{publicKey}:{privateKey}")``
  plus the ``clientId`` header (mandatory since 2019).
- Lists are bare JSON arrays; ``pageSize`` tops out at 1000. psad pages by key
  (``conditions=id>N`` with ``orderBy=id asc``) instead of by page number, so a
  record changing mid-sync can neither be skipped nor repeated, and stops on
  a short page (a ``Link`` header is not needed).
- Changed-since: ``conditions=lastUpdated>[2025-01-31T02:00:00Z]`` (UTC).
- Sites have no list-all endpoint, so they are read per company through
  ``POST /system/bundles`` (``BUNDLE_SIZE`` companies' reads in one call, each
  carrying the changed-since condition in an incremental run), and counted
  through ``POST /system/bundles/count`` to prove nothing was deleted. Where
  bundles are refused, or one read in a bundle fails, those reads are made one
  call per company instead (logged once).
- ``GET …/count`` → ``{"count": N}`` answers the upstream total of an entity.
- Custom fields: ``customFields[{id, caption, value}]``, selected by caption.
- Ticket set-up data: ``/service/boards``, ``/service/boards/{id}/statuses``,
  ``/service/priorities``.
"""

from __future__ import annotations

from psad.connectors.connectwise.connector import ConnectWiseConnector

__all__ = ["ConnectWiseConnector"]
