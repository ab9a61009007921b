"""A deterministic, vendor-free PSA dataset that every simulator renders.

``Dataset.generate(seed)`` builds the same companies, sites, assets, contacts,
ticket set-up data and tickets for the same seed, without the wall clock.
Simulators turn these records into their vendor's wire format; tests and the
simulators' ``/_sim/`` endpoints mutate them through ``add``/``update``/
``delete``, which stamp ``updated_at`` from :meth:`Dataset.now`.

Records live in per-entity dicts keyed by id with a parallel ascending id list,
so a simulator can page with slices and ``bisect`` instead of scanning.
"""

from __future__ import annotations

from psad.simulators.dataset.records import (
    BASE_TIME,
    DELETE,
    ENTITIES,
    SPAN,
    Asset,
    Board,
    Company,
    CompanyStatus,
    CompanyType,
    Contact,
    CustomFieldDef,
    CustomValue,
    Priority,
    Site,
    Ticket,
    TicketStatus,
    to_json,
)
from psad.simulators.dataset.tables import Dataset
from psad.simulators.dataset.vocabulary import (
    ASSET_STATUSES,
    ASSET_TYPES,
    CONTACT_TYPES,
    MANUFACTURERS,
    TICKET_STATUSES,
)

__all__ = [
    "ASSET_STATUSES",
    "ASSET_TYPES",
    "Asset",
    "BASE_TIME",
    "Board",
    "CONTACT_TYPES",
    "Company",
    "CompanyStatus",
    "CompanyType",
    "Contact",
    "CustomFieldDef",
    "CustomValue",
    "DELETE",
    "Dataset",
    "ENTITIES",
    "MANUFACTURERS",
    "Priority",
    "SPAN",
    "Site",
    "TICKET_STATUSES",
    "Ticket",
    "TicketStatus",
    "to_json",
]
