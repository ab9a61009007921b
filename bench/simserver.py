"""A PSA simulator in its own process for benchmarks, with vendor rate limits lifted.

Rate limits are lifted because the benchmarks measure psad against the cost of
fetching the pages, not the vendor's throttle; the per-request latency stands
in for the network and the PSA's own work. ``--vendor-limits`` keeps them (the
Kaseya BMS nightly row runs within BMS's hourly budget).
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from psad.connectors.registry import PSAS
from psad.simulators import FAULTS_KEY
from psad.simulators.dataset import Dataset
from psad.simulators.serve import SIMULATORS, serve_app


async def serve(args: argparse.Namespace) -> None:
    dataset = Dataset.generate(args.seed, companies=args.companies, sites_per_company=2,
                               assets=args.assets, contacts=args.contacts, tickets=args.tickets)
    spec = SIMULATORS[args.kind]
    app = spec.create(dataset, **({} if args.vendor_limits else spec.unlimited))
    app[FAULTS_KEY].latency = args.latency
    runner, root = await serve_app(app, port=args.port)
    print(root, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=sorted(psa.simulator for psa in PSAS))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--companies", type=int, default=100)
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--contacts", type=int, default=500)
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--vendor-limits", action="store_true",
                        help="keep the vendor's rate limits")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
