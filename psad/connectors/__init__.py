"""The built-in connectors, by config ``kind`` (from the registry), and how to build one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psad.connectors.base import Connector
from psad.connectors.registry import PSAS

if TYPE_CHECKING:
    import aiohttp

    from psad.config import IntegrationConfig, SyncConfig
    from psad.metrics import Metrics

CONNECTORS: dict[str, type[Connector]] = {psa.kind: psa.connector for psa in PSAS}


async def build_connector(integration: IntegrationConfig, session: aiohttp.ClientSession,
                          sync: SyncConfig, metrics: Metrics | None = None) -> Connector:
    """A connector with its secrets read and its own client on the shared session."""
    from psad.config import read_secrets
    from psad.http import PsaClient, RetryPolicy

    secrets = await read_secrets(integration)
    client = PsaClient(
        session, integration.name,
        timeout=sync.request_timeout_seconds,
        max_concurrency=integration.max_concurrency,
        requests_per_second=integration.requests_per_second,
        policy=RetryPolicy(max_retries=sync.max_retries),
        metrics=metrics,
        psa=integration.kind,
    )
    return CONNECTORS[integration.kind](integration, client, secrets)
