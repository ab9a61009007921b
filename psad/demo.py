"""``psad demo``: every PSA simulator on loopback and a config that syncs them all."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from psad.config import Config
from psad.config_file import load_config
from psad.connectors.registry import PSAS
from psad.simulators.dataset import Dataset
from psad.simulators.serve import RunningSimulator, start_simulator

DEMO_SEED = 7


@dataclass(slots=True)
class Demo:
    directory: Path
    config_path: Path
    config: Config
    token: str
    simulators: list[RunningSimulator]

    def banner(self, url: str) -> str:
        lines = [
            "",
            "psad demo is running.",
            f"  dashboard   {url}/            (log in with the token below)",
            f"  runs (API)  curl -H 'Authorization: Bearer {self.token}' {url}/api/runs",
            f"  metrics     curl -H 'Authorization: Bearer {self.token}' {url}/metrics",
            f"  token       {self.token}",
            "  psad status, sync and runs in another shell, after:",
            f"    export PSAD_URL={url} PSAD_TOKEN={self.token}",
            f"  files       {self.directory}",
            "  simulators:",
            *(f"    {s.spec.kind:<12} {s.base_url}" for s in self.simulators),
            "Ctrl-C stops everything.",
        ]
        return "\n".join(lines)

    async def stop(self) -> None:
        for sim in self.simulators:
            await sim.stop()


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def demo_config_text(directory: Path, port: int, simulators: list[RunningSimulator]) -> str:
    parts = [
        "# Written by `psad demo`: syncs the local PSA simulators.",
        'database = "psad.db"',
        "",
        "[server]",
        f'listen = "127.0.0.1:{port}"',
        'api_token = { file = "secrets/api-token" }',
        "",
        "[sync]",
        "workers = 2",
        "jitter_seconds = 0",
    ]
    for sim in simulators:
        name = f"demo-{sim.spec.kind.replace('_', '-')}"
        parts += ["", "[[integrations]]", f'name = "{name}"', f'kind = "{sim.spec.kind}"',
                  f"base_url = {_toml_string(sim.base_url)}"]
        for key, value in {**sim.spec.settings, **sim.extra}.items():
            parts.append(f"{key} = {_toml_string(value)}")
        for key in sim.spec.secrets:
            parts.append(f'{key} = {{ file = "secrets/{name}-{key}" }}')
        parts += [
            'schedule = "0 4 * * *"',
            'timezone = "UTC"',
            "[integrations.custom_fields]",
            'assets = ["Backup", "Rack"]',
            'contacts = ["VIP"]',
        ]
    return "\n".join(parts) + "\n"


def _write_secret(path: Path, value: str) -> None:
    """A secret file readable by its owner only, whatever the umask or an older copy's mode."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(value + "\n")


def _write_files(directory: Path, token: str, port: int,
                 simulators: list[RunningSimulator]) -> Path:
    secrets_dir = directory / "secrets"
    secrets_dir.mkdir(parents=True, exist_ok=True)
    secrets_dir.chmod(0o700)
    _write_secret(secrets_dir / "api-token", token)
    for sim in simulators:
        name = f"demo-{sim.spec.kind.replace('_', '-')}"
        for key, value in sim.spec.secrets.items():
            _write_secret(secrets_dir / f"{name}-{key}", value)
    path = directory / "psad.toml"
    path.write_text(demo_config_text(directory, port, simulators))
    return path


async def start_demo(directory: Path, *, port: int, token: str, companies: int = 40,
                     assets: int = 400, contacts: int = 200,
                     kinds: tuple[str, ...] | None = None) -> Demo:
    directory.mkdir(parents=True, exist_ok=True)
    dataset = Dataset.generate(DEMO_SEED, companies=companies, assets=assets,
                               contacts=contacts)
    chosen = kinds or tuple(psa.simulator for psa in PSAS)
    simulators = [await start_simulator(kind, dataset) for kind in chosen]
    path = await asyncio.to_thread(_write_files, directory, token, port, simulators)
    config = await asyncio.to_thread(load_config, path)
    return Demo(directory, path, config, token, simulators)
