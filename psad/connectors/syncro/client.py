"""Syncro's transport: the API token, the per-IP request budget, envelopes and pages."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from psad.connectors.base import Connector
from psad.connectors.paging import NumberedListing, NumberedPage
from psad.connectors.syncro.wire import _CUSTOMER_PARAMS, _LISTS, _positive_int
from psad.errors import PsaBadResponse
from psad.model import Entity
from psad.progress import report_total

REQUESTS_PER_MINUTE: Final = 180


# --- pacing -----------------------------------------------------------------------------


class RequestBudget:
    """At most ``limit`` request starts in any ``window`` seconds.

    A sliding window never exceeds the limit inside any fixed window either,
    whichever way the vendor counts.
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._starts and now - self._starts[0] >= self.window:
                    self._starts.popleft()
                if len(self._starts) < self.limit:
                    self._starts.append(now)
                    return
                await asyncio.sleep(self._starts[0] + self.window - now)


_BUDGETS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                    dict[tuple[str, int], RequestBudget]] = (
    weakref.WeakKeyDictionary())


def shared_budget(host: str, limit: int) -> RequestBudget:
    """The process-wide budget for ``host`` (Syncro counts per caller IP)."""
    per_loop = _BUDGETS.setdefault(asyncio.get_running_loop(), {})
    budget = per_loop.get((host, limit))
    if budget is None:
        budget = per_loop[(host, limit)] = RequestBudget(limit)
    return budget


# --- auth -------------------------------------------------------------------------------


class _TokenAuth:
    def __init__(self, token: str) -> None:
        self._headers = {"Authorization": f"Bearer {token}"}

    async def headers(self) -> Mapping[str, str]:
        return self._headers

    async def refresh(self) -> bool:
        return False


class SyncroApi(Connector):
    """Calls to one Syncro account, paced to its per-IP limit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.auth = _TokenAuth(self.secrets["api_key"])
        self.website_field = self.integration.settings.get("website_field") or None
        self.requests_per_minute = _positive_int(
            self.integration.settings.get("requests_per_minute"), REQUESTS_PER_MINUTE,
            f"integrations.{self.name}.requests_per_minute")
        self._budget: RequestBudget | None = None
        self._ticket_page_size: int | None = None

    # -- transport -----------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.integration.base_url + path

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        if self._budget is None:
            host = urlsplit(self.integration.base_url).netloc
            self._budget = shared_budget(host, self.requests_per_minute)
        await self._budget.acquire()
        response = await self.client.get(self._url(path), params=params, auth=self.auth)
        return response.body

    def _envelope(self, path: str, body: Any, key: str) -> tuple[list[Any], int | None]:
        """The items under ``key`` and ``meta.total_pages`` (None when not given)."""
        if not isinstance(body, dict) or not isinstance(body.get(key), list):
            raise PsaBadResponse(f"GET {path}: expected an object with a {key!r} list",
                                 integration=self.name)
        meta = body.get("meta")
        total = meta.get("total_pages") if isinstance(meta, dict) else None
        return body[key], total if isinstance(total, int) and not isinstance(total, bool) else None

    async def _pages(self, path: str, key: str, params: Mapping[str, Any] | None = None,
                     *, first: int = 1) -> AsyncIterator[tuple[int, list[Any], int | None]]:
        """``(page, items, total_pages)`` from ``first`` until ``meta.total_pages``
        (or, where meta is missing, until an empty page)."""
        page = first
        while True:
            body = await self._get(path, {**(params or {}), "page": page})
            items, total_pages = self._envelope(path, body, key)
            if items:
                yield page, items, total_pages
            if not items or (total_pages is not None and page >= total_pages):
                return
            page += 1

    def _listing(self, entity: Entity) -> NumberedListing:
        """Every upstream item of a listed entity, pages read several at a time, each id
        once; ``meta.total_entries`` (else ``total_pages``) tells whether it held still."""
        path, key = _LISTS[entity]
        params = _CUSTOMER_PARAMS if path == "customers" else {}

        async def read(number: int) -> NumberedPage:
            body = await self._get(path, {**params, "page": number})
            items, total_pages = self._envelope(path, body, key)
            meta = body.get("meta")
            entries = meta.get("total_entries") if isinstance(meta, dict) else None
            counted = isinstance(entries, int) and not isinstance(entries, bool)
            size = entries if counted else total_pages
            if counted:
                report_total(entries)
            elif number == 1 and total_pages is not None:
                report_total(total_pages * len(items))  # at most this many: pages are full
            return NumberedPage(items, size, total_pages)

        return NumberedListing(read, ahead=self.integration.max_concurrency)

    async def _settings(self, path: str) -> Mapping[str, Any]:
        body = await self._get(path)
        if not isinstance(body, dict):
            raise PsaBadResponse(f"GET {path}: expected a JSON object", integration=self.name)
        return body
