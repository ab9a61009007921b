"""The ``psad`` command line.

Exit codes: 0 success, 1 a sync failed or the daemon could not be reached,
2 invalid configuration or usage, 3 a sync ended ``partial``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from psad.config import Config, load_config
from psad.connectors.registry import PSAS
from psad.errors import ConfigError
from psad.logs import setup_logging

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_PARTIAL = 0, 1, 2, 3
SIMULATOR_KINDS = tuple(psa.simulator for psa in PSAS)


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", type=Path, default=Path("/etc/psad/psad.toml"),
                        help="config file (default: /etc/psad/psad.toml)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="psad", description="PSA sync daemon")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check-config", help="validate a config file and list every problem")
    p.add_argument("file", type=Path)

    p = sub.add_parser("sync-once", help="run one sync in this process and print its summary")
    _config_arg(p)
    p.add_argument("name", help="integration name")
    p.add_argument("--full", action="store_true", help="fetch everything, not only changes")

    p = sub.add_parser("run", help="run the daemon")
    _config_arg(p)

    p = sub.add_parser("demo", help="run the daemon against local PSA simulators")
    p.add_argument("--port", type=int, default=8080, help="dashboard/API port (default 8080)")
    p.add_argument("--dir", type=Path, default=None, help="keep demo files here")
    p.add_argument("--companies", type=int, default=40)
    p.add_argument("--assets", type=int, default=400)
    p.add_argument("--contacts", type=int, default=200)

    p = sub.add_parser("sync", help="ask the running daemon to sync an integration now")
    _config_arg(p)
    p.add_argument("name")
    p.add_argument("--full", action="store_true")
    p.add_argument("--wait", action="store_true", help="follow the run until it ends")

    p = sub.add_parser("status", help="integrations, last and next runs, and the queue")
    _config_arg(p)

    p = sub.add_parser("runs", help="the sync log, newest first")
    _config_arg(p)
    p.add_argument("name", nargs="?")
    p.add_argument("--limit", type=int, default=20)

    p = sub.add_parser("simulate", help="run a PSA simulator standalone")
    p.add_argument("kind", choices=sorted(SIMULATOR_KINDS))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--companies", type=int, default=50)
    p.add_argument("--sites-per-company", type=int, default=2)
    p.add_argument("--assets", type=int, default=500)
    p.add_argument("--contacts", type=int, default=250)
    p.add_argument("--tickets", type=int, default=200)
    p.add_argument("--latency", type=float, default=0.0,
                   help="seconds added to every response")
    return parser


def _load(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as err:
        for problem in err.problems:
            print(f"{path}: {problem}" if not problem.startswith(str(path)) else problem,
                  file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args.file)
    print(f"{args.file}: ok ({len(config.integrations)} integration(s))")
    return EXIT_OK


def cmd_sync_once(args: argparse.Namespace) -> int:
    from psad.sync_once import sync_once

    config = _load(args.config)
    integration = config.integration(args.name)
    if integration is None:
        known = ", ".join(i.name for i in config.integrations) or "none"
        print(f"psad: no integration named {args.name!r} (configured: {known})", file=sys.stderr)
        return EXIT_CONFIG
    try:
        report = asyncio.run(sync_once(config, integration, full=args.full,
                                       requested_by=f"cli:{getpass.getuser()}"))
    except ConfigError as err:
        for problem in err.problems:
            print(f"psad: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"run {report.run_id} {report.integration}: {report.outcome}")
    header = ("entity", "mode", "fetched", "created", "updated", "unchanged", "deleted",
              "rejected", "requests")
    print("  ".join(f"{h:>10}" for h in header))
    for r in report.entities:
        print("  ".join(f"{v:>10}" for v in (r.entity.value, r.mode, r.fetched, r.created,
                                               r.updated, r.unchanged, r.deleted, r.rejected,
                                               r.requests)))
    if report.error:
        print(f"error: {report.error}", file=sys.stderr)
    return {"succeeded": EXIT_OK, "partial": EXIT_PARTIAL}.get(report.outcome, EXIT_FAILED)


def cmd_simulate(args: argparse.Namespace) -> int:
    from psad.simulators.serve import serve_simulator

    return asyncio.run(serve_simulator(args))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    handlers = {
        "check-config": cmd_check_config,
        "sync-once": cmd_sync_once,
        "simulate": cmd_simulate,
    }
    handler = handlers.get(args.command)
    if handler is None:
        from psad import client_cli, daemon

        handler = {"run": daemon.cmd_run, "demo": daemon.cmd_demo, "sync": client_cli.cmd_sync,
                   "status": client_cli.cmd_status, "runs": client_cli.cmd_runs}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        logging.getLogger("psad").info("interrupted")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
