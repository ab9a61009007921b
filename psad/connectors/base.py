"""The connector contract: the one shape every PSA module fills in.

A connector knows its PSA's wire format and nothing else. It yields pages of
normalized records (``psad.model``) per entity, can list ids for the
deletion sweep, and answers live ticket calls. All HTTP goes through the
shared :class:`psad.http.PsaClient`, which owns retries, back-off and rate
limits; a connector only builds requests and translates responses.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from psad.model import (Entity, Record, Rejected, RejectedTicket, Ticket, TicketPage,
                        TicketQuery)
from psad.progress import noting_per_page
from psad.settings import Setting as Setting  # connectors declare their settings with it

if TYPE_CHECKING:
    from psad.config import IntegrationConfig
    from psad.http import PsaClient


StoredRecords = Callable[[Entity], Awaitable[Mapping[str, Mapping[str, Any]]]]
"""The stored live records of an entity by PSA id, for a connector that decides what to
re-read by what psad already holds."""


@dataclass(frozen=True, slots=True)
class Page:
    """One upstream page, translated. ``rejected`` records were malformed.

    ``listing_changed`` marks a listing that kept changing while it was read
    (see :mod:`psad.connectors.paging`): its records are good, but a record
    may have slipped past a page boundary, so nothing is swept on its word.
    """

    records: Sequence[Record]
    rejected: Sequence[Rejected] = ()
    listing_changed: bool = False
    present: Sequence[str] = ()
    """Ids listed upstream whose stored record stands: the connector chose not to
    re-read them this run (they are kept, not swept)."""


def translate_page(entity: Entity, items: Sequence[Any],
                   parse: Callable[[Any], Record], *,
                   id_keys: tuple[str, ...] = ("id",)) -> Page:
    """Parse each vendor item; a malformed one becomes a :class:`Rejected` with its reason.

    Items are JSON objects, or the typed structs a connector's decoder made of them
    (``PsaClient.request``'s ``decoder``), which ``parse`` then reads."""
    from psad.connectors.wire import BadRecord, loggable_id, obj

    records: list[Record] = []
    rejected: list[Rejected] = []
    with noting_per_page():
        for item in items:
            try:
                records.append(parse(item if isinstance(item, msgspec.Struct)
                                     else obj(item, entity.value)))
            except BadRecord as err:
                rejected.append(Rejected(entity, loggable_id(_item_id(item, id_keys)),
                                         str(err)))
    return Page(records, rejected)


def _item_id(item: Any, keys: tuple[str, ...]) -> Any:
    """The first of ``keys`` an item has, for naming it when it is rejected."""
    if isinstance(item, msgspec.Struct):
        return next((v for k in keys if (v := getattr(item, k, None)) is not None), None)
    if isinstance(item, dict):
        return next((item[k] for k in keys if item.get(k) is not None), None)
    return None


def translate_tickets(items: Iterable[Any], parse: Callable[[Mapping[str, Any]], Ticket]
                      ) -> tuple[tuple[Ticket, ...], tuple[RejectedTicket, ...]]:
    """Parse each listed ticket; a malformed one is skipped and comes back with its reason."""
    from psad.connectors.wire import BadRecord, loggable_id, obj

    tickets: list[Ticket] = []
    rejected: list[RejectedTicket] = []
    for item in items:
        try:
            tickets.append(parse(obj(item, "ticket")))
        except BadRecord as err:
            ident = item.get("id") if isinstance(item, dict) else None
            rejected.append(RejectedTicket(loggable_id(ident), str(err)))
    return tuple(tickets), tuple(rejected)


OFFLOAD_ITEMS = 100
"""Pages with at least this many items are translated in a thread."""


async def translated(entity: Entity, items: Sequence[Any],
                     parse: Callable[[Any], Record], *,
                     id_keys: tuple[str, ...] = ("id",)) -> Page:
    """:func:`translate_page`, off the event loop for a full page: translating a
    page of a few hundred records takes milliseconds, and the loop meanwhile has
    the next page's request to send and the dashboard to answer."""
    if len(items) < OFFLOAD_ITEMS:
        return translate_page(entity, items, parse, id_keys=id_keys)
    return await asyncio.to_thread(translate_page, entity, items, parse, id_keys=id_keys)


class Connector(abc.ABC):
    kind: ClassVar[str]
    settings: ClassVar[tuple[Setting, ...]]
    incremental: ClassVar[frozenset[Entity]]
    """Entities whose fetch honours ``since`` (the rest are always full)."""
    stored: StoredRecords | None = None
    """Set by the engine for the run; None outside a run."""

    def __init__(
        self, integration: IntegrationConfig, client: PsaClient, secrets: dict[str, str]
    ) -> None:
        self.integration = integration
        self.client = client
        self.secrets = secrets

    @property
    def name(self) -> str:
        return self.integration.name

    @abc.abstractmethod
    def fetch(self, entity: Entity, *, since: datetime | None = None) -> AsyncIterator[Page]:
        """Pages of ``entity``; only records changed after ``since`` when given.

        Within a run the engine begins these fetches in :data:`psad.model.SYNC_ORDER`
        (companies before what hangs off them), so a fetch may wait for one begun
        before it in the same run."""

    @abc.abstractmethod
    def list_ids(self, entity: Entity) -> AsyncIterator[Sequence[str]]:
        """Every upstream id of ``entity``, page by page, for the deletion sweep."""

    async def count(self, entity: Entity) -> int | None:
        """How many records of ``entity`` the PSA holds now, where it can say so
        cheaply (one call or a few); None where it cannot. An incremental run
        whose stored live count equals this after applying the changes has
        proof that nothing was deleted, and skips listing every id."""
        return None

    @abc.abstractmethod
    async def list_tickets(self, query: TicketQuery) -> TicketPage:
        """One page of live tickets matching ``query``."""

    @abc.abstractmethod
    async def get_ticket(self, ticket_id: str) -> Ticket:
        """One live ticket; raises :class:`psad.errors.PsaNotFound` when absent."""

    async def close(self) -> None:
        """Release anything the connector holds beyond the shared client."""
