"""The PSAs psad speaks: one entry per vendor, and every list of kinds derives from it.

An entry names the connector, the simulator that stands in for the vendor in
the demo, tests and benchmarks (the package ``psad.simulators.<simulator>``, which
declares its ``SIMULATOR``),
the name people read, and the facts the shared cross-PSA tests hold every
connector to. The CLI (``psad simulate``), ``psad demo``, the benchmarks and
``tests/connectors/test_all_psas.py`` take their kinds from :data:`PSAS`;
adding a PSA is adding its connector and simulator modules and one entry here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from psad.connectors.autotask import AutotaskConnector
from psad.connectors.base import Connector, Setting
from psad.connectors.connectwise import ConnectWiseConnector
from psad.connectors.halo import HaloConnector
from psad.connectors.kaseya_bms import KaseyaBmsConnector
from psad.connectors.syncro import SyncroConnector
from psad.model import Entity

FROM_DATASET = "one per record upstream"
PER_COMPANY = "one per company"
PER_STATUS_NAME = "one per distinct ticket-status name"
ACTIVE_INACTIVE = 2
"""Company statuses a PSA without them gets: derived from an active/inactive flag."""


@dataclass(frozen=True, slots=True)
class Psa:
    """One vendor psad syncs."""

    display_name: str
    connector: type[Connector]
    simulator: str
    """Its simulator's kind: the package ``psad.simulators.<simulator>`` declaring
    ``SIMULATOR`` (:mod:`psad.simulators.serve` builds its list from these)."""
    companies_path: str
    """Where its company list is read, from the host's root (the shared tests throttle it)."""
    bad_asset_name: tuple[str, object] = ("name", None)
    """The wire field an asset's name travels in, and a value the connector must reject."""
    token_expires: bool = False
    """Its access tokens expire, so the connector renews them (tests force a renewal)."""
    asset_custom_fields: bool = True
    """Its assets carry custom fields."""
    synthesized: Mapping[Entity, str | int] = field(default_factory=dict)
    """Entities the PSA lacks or shapes differently, and how many rows psad makes of them
    (:data:`PER_COMPANY`, :data:`PER_STATUS_NAME` or a fixed count); every other entity
    has :data:`FROM_DATASET` rows."""

    @property
    def kind(self) -> str:
        """The config ``kind`` (and the id in URLs, metrics and logs)."""
        return self.connector.kind

    @property
    def settings(self) -> tuple[Setting, ...]:
        """The connector's settings table (``[[integrations]]`` keys of this kind)."""
        return self.connector.settings

    @property
    def incremental(self) -> frozenset[Entity]:
        """Entities fetched by "changed since" (the rest are read whole every run)."""
        return self.connector.incremental

    def rows_of(self, entity: Entity) -> str | int:
        return self.synthesized.get(entity, FROM_DATASET)


PSAS: tuple[Psa, ...] = (
    Psa("ConnectWise PSA", ConnectWiseConnector, "connectwise",
        "/v4_6_release/apis/3.0/company/companies"),
    Psa("Autotask", AutotaskConnector, "autotask",
        "/webservices5/ATServicesRest/V1.0/Companies/", ("referenceTitle", None),
        synthesized={Entity.COMPANY_STATUS: ACTIVE_INACTIVE,
                     Entity.TICKET_STATUS: PER_STATUS_NAME}),
    Psa("Syncro", SyncroConnector, "syncro", "/api/v1/customers",
        synthesized={Entity.COMPANY_STATUS: ACTIVE_INACTIVE, Entity.SITE: PER_COMPANY,
                     Entity.TICKET_STATUS: PER_STATUS_NAME}),
    Psa("Kaseya BMS", KaseyaBmsConnector, "kaseya_bms", "/v2/crm/accounts/summary",
        token_expires=True,
        asset_custom_fields=False,
        synthesized={Entity.COMPANY_STATUS: ACTIVE_INACTIVE,
                     Entity.TICKET_STATUS: PER_STATUS_NAME}),
    Psa("HaloPSA", HaloConnector, "halo", "/api/Client", ("inventory_number", {"not": "text"}),
        token_expires=True,
        synthesized={Entity.COMPANY_STATUS: ACTIVE_INACTIVE,
                     Entity.TICKET_STATUS: PER_STATUS_NAME}),
)

BY_KIND: dict[str, Psa] = {psa.kind: psa for psa in PSAS}
KINDS: tuple[str, ...] = tuple(BY_KIND)


def display_name(kind: str) -> str:
    """The vendor's name as people read it; an unknown kind is shown as it is."""
    psa = BY_KIND.get(kind)
    return psa.display_name if psa else kind
