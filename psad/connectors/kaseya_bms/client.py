"""Kaseya BMS's transport: sign-in and token renewal, calls, pages, per-record fan-out."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from psad.connectors import wire
from psad.connectors.base import Connector
from psad.connectors.kaseya_bms.wire import (
    _REFUSED,
    DEFAULT_CONTACT_MODULE,
    DEFAULT_PAGE_SIZE,
    DEFAULT_REFRESH_DAYS,
    EARLY_RENEWAL,
    LOOKUPS,
    MAX_PAGE_SIZE,
    MAX_PAGES,
    Envelope,
    T,
    api_root,
    camel,
    records,
    ui_root,
    unwrap,
)
from psad.connectors.wire import BadRecord
from psad.errors import PsaAuthError, PsaBadResponse, PsaNotFound
from psad.http import BearerTokenAuth, PsaClient, RequestPriority, with_priority
from psad.model import Address
from psad.progress import report_total


async def gather(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Per-record calls, run concurrently behind the sync's chains of pages; the first
    failure cancels the rest and is raised as is."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(with_priority(RequestPriority.FAN_OUT, c))
                     for c in coros]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


# --- auth ------------------------------------------------------------------------------


class BmsAuth(BearerTokenAuth):
    """Bearer tokens from the form sign-in, renewed before expiry and after a 401."""

    def __init__(self, client: PsaClient, root: str, tenant: str, username: str,
                 password: str, integration: str) -> None:
        super().__init__()
        self.client = client
        self.root = root
        self.integration = integration
        self._credentials = {"GrantType": "password", "UserName": username,
                             "Password": password, "Tenant": tenant}
        self._who = f"{username} at {tenant}"
        self._refresh: str | None = None
        self.sign_ins = 0
        self.refreshes = 0

    async def _obtain(self) -> None:
        await self._sign_in()

    async def _renew(self) -> None:
        if not await self._use_refresh_token():
            await self._sign_in()

    async def _post(self, path: str, form: Mapping[str, str]) -> tuple[int, Any]:
        response = await self.client.request("POST", self.root + path, form=form,
                                             allow_statuses=_REFUSED)
        return response.status, response.body

    async def _sign_in(self) -> None:
        status, body = await self._post("security/authenticate", self._credentials)
        try:
            result = unwrap(body, "POST security/authenticate", status=status,
                            integration=self.integration).result
            self._accept(result)
        except (PsaBadResponse, PsaAuthError, PsaNotFound, BadRecord) as err:
            raise PsaAuthError(f"BMS refused the sign-in of {self._who} (HTTP {status}): {err}",
                               integration=self.integration) from None
        self.sign_ins += 1

    async def _use_refresh_token(self) -> bool:
        if self._token is None or self._refresh is None:
            return False
        status, body = await self._post("security/refreshtoken",
                                        {"AccessToken": self._token,
                                         "RefreshToken": self._refresh})
        try:
            self._accept(unwrap(body, "POST security/refreshtoken", status=status,
                                integration=self.integration).result)
        except (PsaBadResponse, PsaAuthError, PsaNotFound, BadRecord):
            return False
        self.refreshes += 1
        return True

    def _accept(self, result: Any) -> None:
        tokens = wire.obj(camel(result), "result")
        self._token = wire.text(tokens, "accessToken")
        self._refresh = wire.opt_text(tokens, "refreshToken")
        expires = wire.parse_datetime(tokens.get("accessTokenExpireOn"), "accessTokenExpireOn")
        lifetime = None if expires is None else (expires - datetime.now(UTC)).total_seconds()
        self._renew_at = None
        if lifetime is not None and lifetime > 0:  # else (clock skew) only a 401 renews
            self._renew_at = self.clock() + lifetime - min(EARLY_RENEWAL, lifetime / 10)


class KaseyaBmsApi(Connector):
    """Calls to one BMS tenant as its signed-in user."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.integration
        self.api_root = api_root(cfg.base_url)
        self.ui_root = (cfg.settings.get("ui_url") or ui_root(self.api_root)).rstrip("/")
        self.contact_module = cfg.settings.get("contact_custom_fields_module",
                                               DEFAULT_CONTACT_MODULE)
        if not self.contact_module.isdigit():
            raise ValueError("contact_custom_fields_module must be a number")
        days = cfg.settings.get("asset_detail_refresh_days", str(DEFAULT_REFRESH_DAYS))
        if not days.isdigit() or int(days) < 1:
            raise ValueError("asset_detail_refresh_days must be a whole number of days, 1 or more")
        self.refresh_days = int(days)
        self.today: Callable[[], date] = lambda: datetime.now(UTC).date()
        self.auth = BmsAuth(self.client, self.api_root, cfg.settings["tenant"],
                            cfg.settings["username"], self.secrets["password"], cfg.name)
        self.page_size = min(cfg.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        self._addresses: OrderedDict[str, Address] = OrderedDict()
        self._lookups: dict[str, tuple[float, dict[str, str]]] = {}

    # -- transport -----------------------------------------------------------------------

    async def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                    body: Any = None) -> Envelope:
        response = await self.client.request(method, self.api_root + path, params=params,
                                             json_body=body, auth=self.auth)
        return unwrap(response.body, f"{method} {path}", status=response.status,
                      integration=self.name)

    async def _pages(self, path: str, params: Mapping[str, str] | None = None
                     ) -> AsyncIterator[list[Any]]:
        """Every item under ``path``, one upstream page at a time."""
        size = self.page_size
        first_ids: set[object] = set()
        for number in range(1, MAX_PAGES + 1):
            envelope = await self._call("GET", path, params={**(params or {}),
                                                            "PageNumber": number,
                                                            "PageSize": size})
            items = records(envelope.result, f"GET {path}", self.name)
            if not items:
                return
            first = items[0].get("id") if isinstance(items[0], dict) else None
            if first is not None and first in first_ids:
                raise PsaBadResponse(f"GET {path}: page {number} repeats an earlier page; "
                                     "the server ignored PageNumber", integration=self.name)
            first_ids.add(first)
            if number == 1:
                report_total(envelope.total)
            yield items
            last = envelope.total is not None and number * size >= envelope.total
            if len(items) < size or last:
                return
        raise PsaBadResponse(f"GET {path}: more than {MAX_PAGES} pages", integration=self.name)

    async def _lookup(self, kind: str) -> list[Any]:
        envelope = await self._call("GET", LOOKUPS[kind])
        return records(envelope.result, f"GET {LOOKUPS[kind]}", self.name)
