"""HaloPSA's transport: the OAuth2 client-credentials token, calls, numbered pages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from psad.connectors.base import Connector, Page, translate_page
from psad.connectors.halo.wire import (
    MAX_PAGE_SIZE,
    TOKEN_MARGIN,
    Listing,
    _envelope,
    _Lookups,
    _root,
    _status,
)
from psad.connectors.paging import NumberedListing, NumberedPage
from psad.errors import PsaAuthError, PsaBadResponse
from psad.http import BearerTokenAuth, PsaClient, redact_url
from psad.model import Entity
from psad.progress import report_total


class HaloAuth(BearerTokenAuth):
    """An OAuth2 client-credentials token, renewed before it expires and after a 401."""

    def __init__(self, client: PsaClient, token_url: str, form: Mapping[str, str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self._client = client
        self.token_url = token_url
        self._form = dict(form)

    async def _obtain(self) -> None:
        await self._fetch()

    async def _fetch(self) -> None:
        response = await self._client.request("POST", self.token_url, form=self._form,
                                              allow_statuses=frozenset({400, 401}))
        shown = redact_url(self.token_url)
        body = response.body
        if response.status in (400, 401):
            raise PsaAuthError(f"POST {shown}: HaloPSA refused the client credentials: "
                               f"{_oauth_error(body)}", integration=self._client.integration,
                               url=shown)
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise PsaBadResponse(f"POST {shown}: the token answer has no access_token",
                                 status=response.status, integration=self._client.integration,
                                 url=shown)
        lifetime = _lifetime(body.get("expires_in"))
        now = self.clock()
        self._token = body["access_token"]
        self._renew_at = now + lifetime - min(TOKEN_MARGIN, lifetime / 2)


def _lifetime(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 3600.0
    return seconds if seconds > 0 else 3600.0


def _oauth_error(body: Any) -> str:
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("error", "error_description") if body.get(k)]
        return ": ".join(parts) or "no reason given"
    return str(body)[:200] if body else "no reason given"


class HaloApi(Connector):
    """Calls to one Halo instance with its application's token."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.integration
        self.root = _root(cfg.base_url)
        auth_url = (cfg.settings.get("auth_url") or self.root + "/auth").rstrip("/")
        tenant = cfg.settings.get("tenant")
        token_url = auth_url + "/token" + (f"?tenant={quote(tenant)}" if tenant else "")
        form = {"grant_type": "client_credentials", "client_id": cfg.settings["client_id"],
                "client_secret": self.secrets["client_secret"],
                "scope": cfg.settings.get("scope") or "all"}
        self.auth = HaloAuth(self.client, token_url, form)
        self.page_size = min(cfg.page_size or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
        self._lookups: _Lookups | None = None
        self._main_site_of: dict[str, str] | None = None
        """Client id → main site id from this run's full client read, for its sites."""
        self._clients_read = asyncio.Event()
        self._clients_read.set()

    # -- transport -----------------------------------------------------------------

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        response = await self.client.get(self.integration.base_url + path, params=params,
                                         auth=self.auth)
        return response.body

    async def _bare(self, path: str, params: Mapping[str, str] | None = None) -> list[Any]:
        body = await self._get(path, params)
        if not isinstance(body, list):
            raise PsaBadResponse(f"GET {path}: expected a JSON array, got {type(body).__name__}",
                                 integration=self.name)
        return body

    async def _statuses(self) -> Page:
        """Ticket statuses with their closed flag: a status row says nothing of it (no
        ``isclosed`` in the vendor's TStatus schema), so the closed ones are those
        ``excludeclosed=true`` leaves out (a query parameter of ``GET /Status`` in the spec)."""
        every = await self._bare("Status", {"type": "ticket"})
        still_open = await self._bare("Status", {"type": "ticket", "excludeclosed": "true"})
        open_ids = {str(d.get("id")).strip() for d in still_open if isinstance(d, Mapping)}
        return translate_page(Entity.TICKET_STATUS, every, lambda d: _status(d, open_ids))

    def _pages(self, listing: Listing, extra: Mapping[str, str] | None = None,
               ) -> NumberedListing:
        """Every row of ``listing`` in id order, pages read several at a time, each id once;
        ``record_count`` on every page tells whether the list held still."""
        async def read(number: int) -> NumberedPage:
            params = {**listing.params, **(extra or {}), "pageinate": "true",
                      "page_size": str(self.page_size), "page_no": str(number),
                      "order": "id", "orderdesc": "false"}
            items, total = _envelope(await self._get(listing.path, params), listing, self.name)
            report_total(total)
            return NumberedPage(items, total, None)

        return NumberedListing(read, ahead=self.integration.max_concurrency)
