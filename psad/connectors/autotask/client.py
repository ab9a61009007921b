"""Autotask's calls: the API user's headers, its zone, and its transport policy."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from psad.connectors import wire
from psad.connectors.autotask.wire import MAX_RECORDS, _errors
from psad.connectors.base import Connector
from psad.connectors.cache import TtlCache
from psad.connectors.wire import BadRecord
from psad.errors import PsaAuthError, PsaBadResponse
from psad.http import StaticAuth
from psad.transport import Discovery, EndpointSlots, TransportPolicy, Usage, UsageBudget

log = logging.getLogger("psad.connectors.autotask")

THREADS_PER_ENDPOINT: Final = 3
LOOKUP_TTL: Final = 300.0
THRESHOLD_ENDPOINT: Final = "thresholdinformation"


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def endpoint_of(url: str) -> str:
    """The lower-case object endpoint of an API URL: ``tickets`` for ``…/V1.0/Tickets/query``."""
    path = urlsplit(url).path
    lowered = path.lower()
    marker = lowered.find("/v1.0/")
    tail = path[marker + 6:] if marker >= 0 else path.strip("/")
    return tail.split("/", 1)[0].lower()


# --- auth and zone ------------------------------------------------------------------------------


VENDOR_ZONE_HOST: Final = re.compile(r"webservices\d*\.autotask\.net")
"""The hosts Autotask's zone answers point at (``webservices5.autotask.net``)."""


def zone_allowed(url: str, zone_hosts: str | None) -> bool:
    """Whether the zone answer ``url`` may receive the API user's credentials.

    By default only https on the vendor's API hosts. ``zone_hosts`` replaces
    that with its comma-separated entries: a host name (https only) or
    ``http://host`` to allow plain http to that host too.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not zone_hosts:
        return parts.scheme == "https" and VENDOR_ZONE_HOST.fullmatch(host) is not None
    for entry in (e.strip().lower() for e in zone_hosts.split(",") if e.strip()):
        scheme, _, name = entry.rpartition("://")
        if host == name and parts.scheme in ({"https", scheme} if scheme else {"https"}):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Zone:
    api: str
    """The zone's REST root, ending in ``/`` (``…/ATServicesRest/``)."""
    web: str | None
    """The zone's UI root, for ticket links."""


class AutotaskApi(Connector):
    """Calls to the API user's zone. The client keeps to the database's request budget
    and Autotask's per-endpoint thread limit, and follows the zone when it moves."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.integration
        self.username = cfg.settings["username"]
        headers = {"ApiIntegrationCode": self.secrets["integration_code"],
                   "UserName": self.username, "Secret": self.secrets["secret"],
                   "Content-Type": "application/json"}
        if impersonate := cfg.settings.get("impersonation_resource_id"):
            headers["ImpersonationResourceId"] = impersonate
        self.auth = StaticAuth(headers)
        """The headers cannot be renewed; a refusal may mean the zone moved, which the
        client's zone discovery checks."""
        self.page_size = min(cfg.page_size or MAX_RECORDS, MAX_RECORDS)
        self.purchase_udf = cfg.settings.get("purchase_date_udf") or None
        self.closed_labels = frozenset(
            label.strip().casefold()
            for label in (cfg.settings.get("closed_statuses") or "").split(",") if label.strip())
        self.governor = UsageBudget(self._threshold, name="Autotask database")
        self.discovery = Discovery(
            ("autotask", _slash(cfg.base_url), self.username), self._lookup_zone,
            lambda zone: zone.api + "V1.0/", name=f"integration={self.name} Autotask zone")
        self.client.use(TransportPolicy(
            budget=self.governor, discovery=self.discovery,
            endpoints=EndpointSlots(endpoint_of, THREADS_PER_ENDPOINT,
                                    {THRESHOLD_ENDPOINT: 1})))
        self.lookups = TtlCache(LOOKUP_TTL)

    @property
    def zone(self) -> Zone | None:
        """The API user's zone, once known."""
        return self.discovery.value

    async def _lookup_zone(self) -> Zone:
        url = _slash(self.integration.base_url) + "V1.0/zoneInformation"
        response = await self.client.request("GET", url, params={"user": self.username},
                                             allow_statuses=frozenset({500}), governed=False)
        if response.status == 500:
            raise PsaAuthError(f"Autotask found no zone for API user {self.username!r}: "
                               f"{_errors(response.body)}", integration=self.name, url=url)
        try:
            body = wire.obj(response.body, "zoneInformation")
            api = wire.text(body, "url")
            web = wire.opt_text(body, "webUrl")
        except BadRecord as err:
            raise PsaBadResponse(f"GET zoneInformation: {err}", integration=self.name,
                                 url=url) from None
        zone_hosts = self.integration.settings.get("zone_hosts")
        if not zone_allowed(api, zone_hosts):
            allowed = zone_hosts or "https://webservices*.autotask.net"
            raise PsaAuthError(f"GET zoneInformation: the zone {api!r} is not on {allowed}; "
                               "psad sends no credentials there (zone_hosts overrides)",
                               integration=self.name, url=url)
        return Zone(_slash(api), _slash(web) if web else None)

    async def _call(self, method: str, path: str, *, body: Any = None,
                    params: Mapping[str, Any] | None = None) -> Any:
        """One API call; ``path`` is relative to the zone's ``V1.0/`` or an absolute URL."""
        response = await self.client.request(method, path, json_body=body, params=params,
                                             auth=self.auth)
        return response.body

    async def _threshold(self) -> Usage:
        url = await self.discovery.base() + "ThresholdInformation"
        response = await self.client.request("GET", url, auth=self.auth,
                                             allow_statuses=frozenset({500}), governed=False)
        if response.status == 500:
            raise PsaAuthError(f"Autotask refused the API user or integration code: "
                               f"{_errors(response.body)}", integration=self.name, url=url)
        try:
            body = wire.obj(response.body, "ThresholdInformation")
            limit = wire.opt_int(body, "externalRequestThreshold") or 10_000
            minutes = wire.opt_int(body, "requestThresholdTimeframe") or 60
            count = wire.opt_int(body, "currentTimeframeRequestCount") or 0
        except BadRecord as err:
            log.warning("integration=%s unreadable ThresholdInformation (%s); assuming no usage",
                        self.name, err)
            return Usage(10_000, 3600.0, 0)
        return Usage(limit, minutes * 60.0, count)

    async def close(self) -> None:
        """Lookups still loading for a caller that went away end with the connector."""
        await self.lookups.close()
