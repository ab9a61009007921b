"""The store contract: every question psad asks its database, and the answers' types.

The daemon, scheduler, dashboard and API talk to the store only through
:class:`StoreContract`; no SQL (and no SQL fragment) crosses this boundary, so a
second backend implements these methods and passes ``tests/store/`` — nothing
else changes. :class:`psad.store.Store` is the SQLite implementation.

Conventions every backend keeps:

- Timestamps in results are ISO-8601 UTC text with microseconds, as
  :func:`psad.store.ts` writes them (they sort as text and go to JSON as is).
- An entity row (:data:`Row`) is a JSON-ready dict: ``integration``, ``psa_id``,
  ``out_of_scope``, ``first_seen``, ``last_seen``, ``updated_at``, ``deleted_at``
  and the entity's content fields (``address`` nested, ``custom_fields`` and
  ``types`` decoded, flags as bools). Its keys are the field names the API
  promises, so they never change.
- Names are compared case-insensitively where a person reads them (ordering,
  text search); ids compare as text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from psad.model import Entity

if TYPE_CHECKING:
    from psad.store import EntityResult, EntityState, PageCounts, SweepResult
    from psad.model import Record

Row = dict[str, Any]
"""One stored entity row, JSON-ready (see the module docstring)."""

COMPANY_CHILDREN = (Entity.SITE, Entity.CONTACT, Entity.ASSET)
"""Entities that belong to a company (they carry ``company_psa_id``)."""

TRIGGER_PRIORITY = {"force": 0, "manual": 0, "startup": 1, "nightly": 2}
"""Which queued run starts first: the lowest number, then the oldest."""


def _json(value: Any) -> dict[str, Any]:
    return dataclasses.asdict(value)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One row of the sync log."""

    id: int
    integration: str
    trigger: str
    requested_by: str
    full_sync: bool
    queued_at: str
    started_at: str | None
    finished_at: str | None
    outcome: str
    current_entity: str | None
    error: str | None
    scheduled_for: str | None

    def to_json(self) -> dict[str, Any]:
        return _json(self)


@dataclass(frozen=True, slots=True)
class RunEntityRecord:
    """One entity's share of a run, as the sync log keeps it."""

    entity: str
    mode: str
    started_at: str
    finished_at: str | None
    complete: bool
    fetched: int
    created: int
    updated: int
    unchanged: int
    deleted: int
    rejected: int
    requests: int
    note: str | None


@dataclass(frozen=True, slots=True)
class RunErrorRecord:
    """One error a run met; ``entity``/``psa_id`` say which record when it concerns one."""

    entity: str | None
    psa_id: str | None
    message: str
    at: str


@dataclass(frozen=True, slots=True)
class RunDetail:
    """A run with its per-entity counts (in start order) and its errors (in order)."""

    run: RunRecord
    entities: tuple[RunEntityRecord, ...]
    errors: tuple[RunErrorRecord, ...]

    def to_json(self) -> dict[str, Any]:
        return {**self.run.to_json(), "entities": [_json(e) for e in self.entities],
                "errors": [_json(e) for e in self.errors]}


@dataclass(frozen=True, slots=True)
class EntitySyncState:
    """An entity's incremental-sync state for one integration."""

    entity: str
    cursor: str | None
    last_success_at: str | None
    last_success_run: int | None
    last_full_sweep_at: str | None


@dataclass(frozen=True, slots=True)
class RecordCounts:
    """Rows of one entity: live and in scope, soft-deleted, live but out of scope."""

    live: int
    deleted: int
    out_of_scope: int


@dataclass(frozen=True, slots=True)
class CompanyPage:
    """One page of companies and, per company on it, its live children by entity name."""

    companies: tuple[Row, ...]
    total: int
    children: dict[str, dict[str, int]]


@dataclass(frozen=True, slots=True)
class CompanyDetail:
    """A company and every child row it has (deleted ones last)."""

    company: Row
    sites: tuple[Row, ...]
    contacts: tuple[Row, ...]
    assets: tuple[Row, ...]


@dataclass(frozen=True, slots=True)
class TicketChoices:
    """Live set-up data for the ticket filters, each in display order.

    ``companies`` holds only in-scope companies; ``statuses`` are ordered by
    their sort order, then name.
    """

    companies: tuple[Row, ...]
    boards: tuple[Row, ...]
    statuses: tuple[Row, ...]
    priorities: tuple[Row, ...]


@dataclass(frozen=True, slots=True)
class EntityQuery:
    """Filters for :meth:`StoreContract.entity_page` (all optional).

    ``company`` applies to company children only; ``text`` matches a part of
    the entity's searchable fields (names; also serial number for assets and
    email for contacts), case-insensitively; ``updated_since`` keeps rows whose
    content changed (or that were deleted) at or after that moment, a change
    feed; ``out_of_scope`` True/False keeps only out-of-scope/in-scope rows.
    ``after`` is the ``psa_id`` the previous page ended on (keyset paging).
    """

    company: str | None = None
    text: str | None = None
    updated_since: datetime | None = None
    include_deleted: bool = False
    out_of_scope: bool | None = None
    after: str | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class EntityPage:
    """Rows in ``psa_id`` order and whether more follow the last one."""

    rows: tuple[Row, ...]
    has_more: bool


class StoreContract(Protocol):
    """What every psad store backend answers. Writes are atomic per call."""

    async def close(self) -> None:
        """Release connections; the store is unusable afterwards."""

    async def ping(self) -> bool:
        """True when the database answers a trivial read."""

    # -- entity data (the sync engine) ----------------------------------------------

    async def apply_page(self, integration: str, entity: Entity, records: Sequence[Record], *,
                         now: datetime, run_id: int | None = None,
                         out_of_scope: Iterable[str] = ()) -> PageCounts:
        """Upsert one page in one transaction, writing only changed rows.

        A later duplicate id in ``records`` wins. A written row gets ``last_seen``
        and ``updated_at`` = ``now`` and is undeleted; with ``run_id`` the
        unchanged ids are remembered for that run's :meth:`sweep`.
        ``out_of_scope`` names the ids the company filter excludes.
        """

    async def remember_seen(self, run_id: int, entity: Entity, ids: Sequence[str]) -> None:
        """Note ids an upstream id listing returned, for the run's :meth:`sweep`."""

    async def sweep(self, integration: str, entity: Entity, run_id: int, *, now: datetime,
                    written_since: datetime, max_share: float,
                    guard_since: datetime | None = None) -> SweepResult:
        """Soft-delete live rows the run neither wrote (since ``written_since``) nor saw.

        Refuses (deleting nothing) when more than ``max_share`` of the entity's
        highest live count since ``guard_since`` (deletions already made in that
        window included) would be gone, once there are at least
        ``MASS_DELETE_FLOOR`` live rows.
        """

    async def live_count(self, integration: str, entity: Entity) -> int:
        """Stored rows of ``entity`` not deleted (in scope or not: both are upstream)."""

    async def forget_seen(self, run_id: int) -> None:
        """Drop what :meth:`apply_page`/:meth:`remember_seen` noted for the run."""

    async def apply_company_scope(self, integration: str, entity: Entity) -> int:
        """Mark each child out of scope exactly when its company is; rows changed."""

    async def entity_state(self, integration: str, entity: Entity) -> EntityState:
        """The entity's cursor and last success/full sweep (read on the writer's view)."""

    async def entity_succeeded(self, integration: str, entity: Entity, run_id: int, *,
                               cursor: datetime, at: datetime, swept: bool) -> None:
        """Record an entity's successful sync: its new cursor, and a full sweep if ``swept``."""

    # -- the sync log -----------------------------------------------------------------

    async def create_run(self, integration: str, trigger: str, requested_by: str, *,
                         full: bool, queued_at: datetime,
                         scheduled_for: datetime | None = None) -> int:
        """A new queued run; returns its id (ids increase)."""

    async def update_run(self, run_id: int, **fields: Any) -> None:
        """Set run columns (trigger, requested_by, full_sync, started_at, finished_at,
        outcome, current_entity, error); any other name is a ValueError."""

    async def save_entity_result(self, run_id: int, result: EntityResult) -> None:
        """Insert or replace one entity's counts for a run."""

    async def add_run_errors(self, run_id: int,
                             errors: Sequence[tuple[str | None, str | None, str]], *,
                             at: datetime) -> None:
        """Append errors given as (entity, psa_id, message)."""

    async def interrupt_unfinished_runs(self, *, at: datetime) -> list[RunRecord]:
        """Mark every queued or running run interrupted (a dead process left them; a
        backend shared by several instances leaves alone the runs of live ones).

        Returns those runs as they were before, in id order.
        """

    async def close_run(self, run_id: int, *, outcome: str, error: str, at: datetime) -> bool:
        """End a run that is still queued or running; False if it had already ended."""

    async def revoke_session(self, session_id: str, expires_at: datetime) -> None:
        """Remember a logged-out dashboard session until ``expires_at``."""

    async def revoked_sessions(self, now: datetime) -> dict[str, datetime]:
        """Revoked session ids not yet expired at ``now``, with their expiry."""

    async def save_custom_fields(self, integration: str, entity: Entity,
                                 counts: Mapping[str, int], *, at: datetime) -> None:
        """Replace what is known of the custom fields ``entity`` offers: name → records."""

    async def custom_fields(self, integration: str) -> dict[str, dict[str, int]]:
        """Entity → custom field → how many records carry it, as last discovered."""

    async def get_run(self, run_id: int) -> RunDetail | None:
        """One run with its entities and errors, or None."""

    async def list_runs(self, *, integration: str | None = None, outcome: str | None = None,
                        before: int | None = None, limit: int = 50) -> list[RunRecord]:
        """Runs newest first, optionally of one integration/outcome, with ids below ``before``."""

    async def latest_interrupted_runs(self) -> list[RunRecord]:
        """Per integration, its newest run when that run was interrupted; in id order."""

    async def last_finished_run(self, integration: str) -> RunRecord | None:
        """The integration's newest run that is neither queued nor running."""

    async def last_succeeded_run(self, integration: str) -> RunRecord | None:
        """The integration's newest succeeded run."""

    async def nightly_covered(self, integration: str, since: datetime) -> bool:
        """Whether a nightly or start-up run, not cancelled, was queued at or after ``since``
        (the scheduler's catch-up test for a missed night)."""

    async def run_count(self) -> int:
        """How many runs the sync log holds."""

    # -- reads for the dashboard and API ---------------------------------------------------

    async def entity_states(self, integration: str) -> dict[str, EntitySyncState]:
        """Sync state per entity name, for the entities that have one."""

    async def count_records(self, integration: str) -> dict[str, RecordCounts]:
        """Row counts for every entity, keyed by entity name."""

    async def records(self, integration: str, entity: Entity, *,
                      include_deleted: bool = True) -> list[Row]:
        """Every row of an entity in ``psa_id`` order (tests and small set-up tables)."""

    async def record(self, integration: str, entity: Entity, psa_id: str) -> Row | None:
        """One row (deleted or not), or None."""

    async def entity_page(self, integration: str, entity: Entity,
                          query: EntityQuery) -> EntityPage:
        """One keyset page of rows matching ``query``, in ``psa_id`` order."""

    async def company_page(self, integration: str, *, text: str | None, limit: int,
                           offset: int) -> CompanyPage:
        """Companies by name (deleted and out of scope included) whose name contains
        ``text``, the total matching, and the live children of those on the page."""

    async def company_names(self, integration: str, psa_ids: Iterable[str]) -> dict[str, str]:
        """Names of the given companies (deleted ones too) by PSA id; unknown ids are left out."""

    async def company_detail(self, integration: str, psa_id: str) -> CompanyDetail | None:
        """A company with its sites (primary first), contacts (by last, first name) and
        assets (by name), each list with deleted rows last; None if unknown."""

    async def ticket_choices(self, integration: str) -> TicketChoices:
        """Live boards, statuses, priorities and in-scope companies for ticket filters."""


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What asking the shared queue for a run gave: the run, its place, whether it joined one."""

    run_id: int
    position: int
    """1-based place among queued runs; 0 if the run it joined already started or ended."""
    deduplicated: bool


class IntegrationBusy(Exception):
    """A run of the integration is already running (on another instance): a second one may
    not start until it ends."""

    def __init__(self, running: RunRecord) -> None:
        super().__init__(
            f"integration {running.integration!r} is already running (run {running.id}, "
            f"{running.trigger} by {running.requested_by}, started {running.started_at}) on "
            "another psad instance; run this again when it has finished, or queue a Force "
            f"Sync after it with `psad sync {running.integration}`")
        self.running = running


class SharedQueueStore(StoreContract, Protocol):
    """A store several instances share that also holds the sync queue (PostgreSQL).

    The ``runs`` rows still queued are the queue. The store enforces its rules
    whichever instance asks: at most one queued and one running run per
    integration, a queued run joined (and upgraded) rather than doubled, one run
    per integration and scheduled night, and runs claimed by one instance only.
    """

    instance: str
    """This process's name on the runs it claims."""

    async def enqueue(self, integration: str, trigger: str, requested_by: str, *, full: bool,
                      queued_at: datetime, scheduled_for: datetime | None = None) -> Enqueued:
        """Queue a run, or join the integration's queued one (taking the more urgent
        trigger and a full sync if asked), or the run already queued for
        ``scheduled_for``; idle instances are woken when a run is added."""

    async def claim_next(self, *, at: datetime) -> RunRecord | None:
        """Start the most urgent queued run (then the oldest) whose integration runs
        nowhere, leased to this instance; None when there is none."""

    async def queue_runs(self) -> list[RunRecord]:
        """Queued runs in the order they will start, then running ones."""

    async def cancel_queued(self, integration: str, reason: str, *, at: datetime) -> bool:
        """Cancel the integration's queued run; False if it had none."""

    async def requeue_lapsed_runs(self, *, at: datetime) -> list[RunRecord]:
        """Interrupt running runs whose instance stopped renewing their lease and queue
        each again; returns them as they were."""

    async def start_now(self, integration: str, trigger: str, requested_by: str, *,
                        full: bool, at: datetime) -> int:
        """Start a run of ``integration`` at once, outside the queue's order, leased to this
        instance (``psad sync-once``): the integration's queued run if it has one (joined
        as :meth:`enqueue` joins it), else a new one. Raises :class:`IntegrationBusy`,
        queueing nothing, when the integration runs anywhere."""

    async def queue_changed(self) -> None:
        """Wake every instance's idle workers (a run ended: its follow-up may start)."""

    async def listen_queue(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever any instance changes the queue, until cancelled
        (reconnecting when the database comes back)."""
