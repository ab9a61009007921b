"""ConnectWise's calls: member keys, and pages in id order."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import msgspec

from psad.connectors.base import Connector
from psad.connectors.connectwise.typed import Identified
from psad.connectors.connectwise.wire import MAX_PAGE_SIZE
from psad.connectors.paging import chain_ahead
from psad.errors import PsaBadResponse
from psad.http import StaticAuth
from psad.logs import register_secret


def _member_auth(company: str, public_key: str, private_key: str,
                 client_id: str) -> StaticAuth:
    """Basic auth with ``company+public:private`` and the ``clientId`` header."""
    credential = f"{company}+{public_key}:{private_key}"
    register_secret(credential)
    token = base64.b64encode(credential.encode()).decode()
    return StaticAuth({"Authorization": f"Basic {token}", "clientId": client_id})


class ConnectWiseApi(Connector):
    """Calls to one ConnectWise company."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.integration
        self.auth = _member_auth(cfg.settings["company_id"], self.secrets["public_key"],
                                 self.secrets["private_key"], cfg.settings["client_id"])
        self.page_size = min(cfg.page_size or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
        self.bundles_refused = False
        """Set when the server refused ``/system/bundles``: single calls from then on."""

    # -- transport -----------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.integration.base_url + path

    async def _get(self, path: str, params: Mapping[str, Any] | None = None,
                   decoder: msgspec.json.Decoder[Any] | None = None) -> Any:
        response = await self.client.get(self._url(path), params=params, auth=self.auth,
                                         decoder=decoder)
        return response.body

    def _pages(self, path: str, *, conditions: Sequence[str] = (), fields: str | None = None,
               decoder: msgspec.json.Decoder[Any] | None = None) -> AsyncIterator[list[Any]]:
        """Every item under ``path`` in id order, one upstream page at a time (the next
        one asked for as soon as this one arrives); typed structs where ``decoder``'s
        types fit the page (see :mod:`psad.connectors.connectwise.typed`)."""
        async def read(last_id: int | None) -> tuple[list[Any], int | None]:
            where = list(conditions) + ([f"id>{last_id}"] if last_id is not None else [])
            params: dict[str, Any] = {"pageSize": self.page_size, "orderBy": "id asc"}
            if where:
                params["conditions"] = " and ".join(f"({c})" for c in where)
            if fields:
                params["fields"] = fields
            items = await self._get(path, params, decoder)
            if not isinstance(items, list):
                raise PsaBadResponse(f"GET {path}: expected a JSON array, got "
                                     f"{type(items).__name__}", integration=self.name)
            ids = ([i.id for i in items] if items and isinstance(items[0], Identified)
                   else [i["id"] for i in items
                         if isinstance(i, dict) and isinstance(i.get("id"), int)])
            more = len(items) >= self.page_size and ids
            return items, max(ids) if more else None

        return chain_ahead(read)
