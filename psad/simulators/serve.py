"""Run simulators on loopback: for ``psad simulate``, ``psad demo``, tests and benchmarks."""

from __future__ import annotations

import argparse
import asyncio
import signal
from dataclasses import dataclass, field
from importlib import import_module

from aiohttp import web

from psad.connectors.registry import PSAS
from psad.simulators.dataset import Dataset
from psad.simulators.faults import Faults
from psad.simulators.kind import SimulatorKind


def _declared(kind: str) -> SimulatorKind:
    """The ``SIMULATOR`` its package ``psad.simulators.<kind>`` declares."""
    declared = getattr(import_module(f"psad.simulators.{kind}"), "SIMULATOR", None)
    if not isinstance(declared, SimulatorKind) or declared.kind != kind:
        raise TypeError(f"psad.simulators.{kind} must declare "
                        f"SIMULATOR = SimulatorKind({kind!r}, …)")
    return declared


SIMULATORS: dict[str, SimulatorKind] = {psa.simulator: _declared(psa.simulator) for psa in PSAS}
"""Every registered PSA's simulator, by kind (the registry names them)."""
CONNECTWISE = SIMULATORS["connectwise"]


@dataclass(slots=True)
class RunningSimulator:
    spec: SimulatorKind
    dataset: Dataset
    app: web.Application
    runner: web.AppRunner
    root_url: str
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.root_url + self.spec.api_path

    @property
    def faults(self) -> Faults:
        from psad.simulators import FAULTS_KEY

        return self.app[FAULTS_KEY]

    async def stop(self) -> None:
        await self.runner.cleanup()


async def serve_app(app: web.Application, *, host: str = "127.0.0.1",
                    port: int = 0) -> tuple[web.AppRunner, str]:
    """``app`` listening on ``host:port`` (0: any free port); its runner and root URL."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound_host, bound_port = runner.addresses[0][:2]
    return runner, f"http://{bound_host}:{bound_port}"


async def start_simulator(kind: str, dataset: Dataset, *, host: str = "127.0.0.1",
                          port: int = 0, latency: float = 0.0) -> RunningSimulator:
    spec = SIMULATORS[kind]
    app = spec.create(dataset)
    runner, root = await serve_app(app, host=host, port=port)
    simulator = RunningSimulator(spec, dataset, app, runner, root)
    simulator.faults.latency = latency
    return simulator


async def serve_simulator(args: argparse.Namespace) -> int:
    dataset = Dataset.generate(args.seed, companies=args.companies,
                               sites_per_company=args.sites_per_company, assets=args.assets,
                               contacts=args.contacts, tickets=args.tickets)
    sim = await start_simulator(args.kind, dataset, host=args.host, port=args.port,
                                latency=args.latency)
    print(f"{args.kind} simulator at {sim.base_url}")
    for key, value in {**sim.spec.settings, **sim.spec.secrets}.items():
        print(f"  {key} = {value}")
    print("Ctrl-C stops it.", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()
    return 0
