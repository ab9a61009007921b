"""ConnectWise's ``/system/bundles``: many parents' child reads in one call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from psad.connectors.connectwise.client import ConnectWiseApi
from psad.connectors.connectwise.wire import BUNDLE_SIZE, _chunks, _error_text, _sub_request
from psad.errors import PsaAuthError, PsaBadResponse, PsaNotFound
from psad.http import RequestPriority, with_priority

log = logging.getLogger("psad.connectors.connectwise")


class _Fallback:
    """Reads that fell back to single calls during one fetch, logged once."""

    def __init__(self, integration: str, resource_type: str) -> None:
        self.integration = integration
        self.resource_type = resource_type
        self.logged = False

    def note(self, reason: str) -> None:
        if not self.logged:
            self.logged = True
            log.warning("integration=%s bundled %s reads fall back to one call each (first "
                        "reason: %s)", self.integration, self.resource_type, reason)


class ConnectWiseBundles(ConnectWiseApi):
    """Child lists (sites, counts) read per parent, bundled where the server allows."""

    def _children(self, resource_type: str, path: Callable[[int], str], parents: Sequence[int],
                  conditions: Sequence[str] = ()) -> AsyncIterator[list[tuple[int, list[Any]]]]:
        """Every item under each parent, ``BUNDLE_SIZE`` parents per bundled call, the
        calls concurrent (the client caps them); results as each call completes."""
        fallback = _Fallback(self.name, resource_type)

        async def one_bundle(chunk: Sequence[int]) -> list[tuple[int, list[Any]]]:
            return await self._bundle(resource_type, path, chunk, conditions, fallback)

        async def results() -> AsyncIterator[list[tuple[int, list[Any]]]]:
            tasks = [asyncio.ensure_future(with_priority(RequestPriority.FAN_OUT, one_bundle(c)))
                     for c in _chunks(parents, BUNDLE_SIZE)]
            try:
                for done in asyncio.as_completed(tasks):
                    yield await done
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        return results()

    async def _bundle(self, resource_type: str, path: Callable[[int], str],
                      parents: Sequence[int], conditions: Sequence[str],
                      fallback: _Fallback) -> list[tuple[int, list[Any]]]:
        """One bundled call reading each parent's first page; parents it could not
        answer in full (a failed read, more than a page) are read one call each."""
        found: dict[int, list[Any]] = {}
        single: list[int] = list(parents)
        if not self.bundles_refused:
            where = " and ".join(f"({c})" for c in conditions)
            results = await self._post_bundle("system/bundles", [
                _sub_request(resource_type, parent, where, self.page_size) for parent in parents])
            if results is not None:
                single = []
                for parent, result in zip(parents, results, strict=True):
                    if result.get("success") is True and isinstance(result.get("entities"), list):
                        if len(result["entities"]) < self.page_size:
                            found[parent] = result["entities"]
                            continue
                    elif result.get("statusCode") == 404:
                        found[parent] = []  # the parent was deleted since it was listed
                        continue
                    else:
                        fallback.note(f"{resource_type} of {parent}: HTTP "
                                      f"{result.get('statusCode')}: {_error_text(result)}")
                    single.append(parent)
        for parent in single:
            items: list[Any] = []
            async for page in self._pages(path(parent), conditions=conditions):
                items.extend(page)
            found[parent] = items
        return [(parent, found[parent]) for parent in parents]

    async def _bundle_count(self, resource_type: str, parents: Sequence[int]) -> int | None:
        """Items under ``parents`` in one bundled count; None when it cannot say."""
        results = await self._post_bundle("system/bundles/count", [
            _sub_request(resource_type, parent, "", self.page_size) for parent in parents])
        if results is None:
            return None
        total = 0
        for result in results:
            count = result.get("count")
            if result.get("statusCode") == 404:
                continue
            if result.get("success") is not True or not isinstance(count, int):
                return None
            total += count
        return total

    async def _post_bundle(self, path: str, requests: list[dict[str, Any]],
                           ) -> list[Mapping[str, Any]] | None:
        """The results of one bundle in request order, or None (and bundles off for
        this connector) when the server refuses bundles or answers them malformed."""
        try:
            response = await self.client.request("POST", self._url(path),
                                                  json_body={"requests": requests},
                                                  auth=self.auth)
        except (PsaBadResponse, PsaNotFound, PsaAuthError) as err:
            if not self.bundles_refused:
                log.warning("integration=%s POST %s refused (%s); reading one call per "
                            "parent from now on", self.name, path, err)
            self.bundles_refused = True
            return None
        body = response.body
        results = body.get("results") if isinstance(body, dict) else None
        by_sequence = {r.get("sequenceNumber"): r for r in results or []
                       if isinstance(r, dict)}
        if not isinstance(results, list) or len(by_sequence) != len(requests) or any(
                r["sequenceNumber"] not in by_sequence for r in requests):
            if not self.bundles_refused:
                log.warning("integration=%s POST %s: the answer does not match the "
                            "bundle; reading one call per parent from now on", self.name, path)
            self.bundles_refused = True
            return None
        return [by_sequence[r["sequenceNumber"]] for r in requests]
