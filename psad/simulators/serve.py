"""Run simulators on loopback: for ``psad simulate``, ``psad demo``, tests and benchmarks."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from psad.simulators import autotask, connectwise, halo, kaseya_bms, syncro
from psad.simulators.dataset import Dataset
from psad.simulators.faults import Faults


@dataclass(frozen=True, slots=True)
class SimulatorKind:
    """How to build a PSA's simulator and what psad's config needs to reach it."""

    kind: str
    create: Callable[[Dataset], web.Application]
    api_path: str
    settings: Mapping[str, str]
    secrets: Mapping[str, str]


CONNECTWISE = SimulatorKind(
    kind="connectwise",
    create=lambda ds: connectwise.create_app(ds, company_id="psad-demo", public_key="demo-public",
                                             private_key="demo-private-key",
                                             client_id=connectwise.DEFAULT_CLIENT_ID),
    api_path="/v4_6_release/apis/3.0/",
    settings={"company_id": "psad-demo", "client_id": connectwise.DEFAULT_CLIENT_ID},
    secrets={"public_key": "demo-public", "private_key": "demo-private-key"},
)

SIMULATORS: dict[str, SimulatorKind] = {s.kind: s for s in (
    CONNECTWISE,
    SimulatorKind("autotask", autotask.create_app, autotask.API_PATH,
                  autotask.SIMULATOR_SETTINGS, autotask.SIMULATOR_SECRETS),
    SimulatorKind("syncro", syncro.create_app, syncro.API_PATH, syncro.SIMULATOR_SETTINGS,
                  syncro.SIMULATOR_SECRETS),
    SimulatorKind("kaseya_bms", kaseya_bms.create_app, kaseya_bms.API_PATH,
                  kaseya_bms.SIMULATOR_SETTINGS, kaseya_bms.SIMULATOR_SECRETS),
    SimulatorKind("halo", halo.create_app, halo.API_PATH, halo.SIMULATOR_SETTINGS,
                  halo.SIMULATOR_SECRETS),
)}


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
