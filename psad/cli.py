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

from psad.config import Config, unreadable_secrets
from psad.config_file import load_or_exit, print_problems
from psad.connectors.registry import PSAS
from psad.errors import ConfigError
from psad.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, EXIT_PARTIAL
from psad.logs import FORMATS, LEVELS, setup_logging
from psad.progress import RunProgress, progress_line
from psad.tables import format_table
from psad.version import psad_version

SIMULATOR_KINDS = tuple(psa.simulator for psa in PSAS)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default (argparse leaves out ``None`` and ``False``)."""


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", type=Path, default=Path("/etc/psad/psad.toml"),
                        help="config file")


def _level(value: str) -> str:
    """``--log-level`` in any case: ``debug`` is ``DEBUG``."""
    return value.upper()


def _logging_args(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``--log-level`` and ``--log-format``, before or after the command.

    After the command they default to "not given", so they never undo the
    same option given before it.
    """
    parser.add_argument("--log-level", type=_level, choices=LEVELS,
                        default="INFO" if top else argparse.SUPPRESS,
                        help="how much to log (any case)")
    parser.add_argument("--log-format", choices=FORMATS,
                        default="text" if top else argparse.SUPPRESS,
                        help="text lines (journald-friendly) or one JSON object a line")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="psad", description="PSA sync daemon", formatter_class=_Formatter,
        epilog="Exit codes: 0 success, 1 a sync failed or the daemon could not be reached, "
               "2 invalid configuration or usage, 3 a sync ended partial.")
    parser.add_argument("--version", action="version", version=f"psad {psad_version()}")
    _logging_args(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, formatter_class=_Formatter)
        _logging_args(p, top=False)
        return p

    p = command("check-config", "validate a config file and list every problem")
    p.add_argument("file", type=Path, help="config file to check")
    p.add_argument("--no-secrets", action="store_true",
                   help="skip reading the secrets (on a machine that does not hold them)")

    p = command("sync-once", "run one sync in this process and print its summary")
    _config_arg(p)
    p.add_argument("name", help="integration name")
    p.add_argument("--full", action="store_true", help="fetch everything, not only changes")

    p = command("run", "run the daemon")
    _config_arg(p)

    p = command("demo", "run the daemon against local PSA simulators")
    p.add_argument("--port", type=int, default=8080, help="dashboard/API port")
    p.add_argument("--dir", type=Path, default=None,
                   help="keep demo files here (default: a temporary folder)")
    p.add_argument("--keep", action="store_true",
                   help="keep the temporary demo folder on exit")
    p.add_argument("--companies", type=int, default=40, help="companies per simulator")
    p.add_argument("--assets", type=int, default=400, help="assets per simulator")
    p.add_argument("--contacts", type=int, default=200, help="contacts per simulator")

    p = command("sync", "ask the running daemon to sync an integration now")
    _config_arg(p)
    p.add_argument("name", help="integration name")
    p.add_argument("--full", action="store_true", help="fetch everything, not only changes")
    p.add_argument("--wait", action="store_true",
                   help="follow the run until it ends (a progress bar on a terminal)")

    p = command("status", "integrations, last and next runs, and the queue")
    _config_arg(p)

    p = command("runs", "the sync log, newest first")
    _config_arg(p)
    p.add_argument("name", nargs="?", help="only this integration's runs")
    p.add_argument("--limit", type=int, default=20, help="how many runs to show")

    p = command("simulate", "run a PSA simulator standalone")
    p.add_argument("kind", choices=sorted(SIMULATOR_KINDS), help="which PSA")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8081, help="port to listen on")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    p.add_argument("--companies", type=int, default=50, help="companies to generate")
    p.add_argument("--sites-per-company", type=int, default=2, help="sites per company")
    p.add_argument("--assets", type=int, default=500, help="assets to generate")
    p.add_argument("--contacts", type=int, default=250, help="contacts to generate")
    p.add_argument("--tickets", type=int, default=200, help="tickets to generate")
    p.add_argument("--latency", type=float, default=0.0,
                   help="seconds added to every response")
    return parser


def cmd_check_config(args: argparse.Namespace) -> int:
    """Every setting's type and value, and (unless --no-secrets) every secret readable."""
    config = load_or_exit(args.file)
    secrets = config.secrets()
    if not args.no_secrets and (problems := unreadable_secrets(config)):
        print_problems(args.file, problems)
        return EXIT_CONFIG
    for warning in custom_field_warnings(config):
        print(f"{args.file}: warning: {warning}", file=sys.stderr)
    checked = "not read (--no-secrets)" if args.no_secrets else "readable"
    print(f"{args.file}: ok ({len(config.integrations)} integration(s), "
          f"{len(secrets)} secret(s) {checked})")
    for integration in config.integrations:
        if hosts := integration.settings.get("zone_hosts"):
            print(f"  {integration.name}: zone_hosts = {hosts!r} replaces the Autotask "
                  "zone check (https://webservices*.autotask.net)")
    return EXIT_OK


def custom_field_warnings(config: Config) -> list[str]:
    """Selected custom fields the PSA does not offer, by what the last full syncs found
    (nothing to say before a sync has discovered an entity's fields)."""
    from psad.store import Store

    # a PostgreSQL database is not opened here: check-config reads files, never a server
    discovered = (Store.read_custom_fields(config.database)
                  if isinstance(config.database, Path) else {})
    warnings = []
    for integration in config.integrations:
        found = discovered.get(integration.name, {})
        for entity, chosen in (("assets", integration.asset_custom_fields),
                               ("contacts", integration.contact_custom_fields)):
            if entity not in found:
                continue
            for name in chosen:
                if name not in found[entity]:
                    offered = ", ".join(repr(n) for n in sorted(found[entity])) or "none"
                    warnings.append(
                        f"integration {integration.name!r}: custom_fields.{entity} selects "
                        f"{name!r}, which the PSA does not have (it offers {offered})")
    return warnings


def cmd_sync_once(args: argparse.Namespace) -> int:
    from psad.store.contract import IntegrationBusy
    from psad.sync_once import sync_once

    config = load_or_exit(args.config)
    integration = config.integration(args.name)
    if integration is None:
        from psad.client_cli import unknown_integration

        return unknown_integration(args.name, [i.name for i in config.integrations])

    def show_progress(progress: RunProgress) -> None:
        print(f"  {progress_line(progress.as_dict())}", file=sys.stderr, flush=True)

    try:
        report = asyncio.run(sync_once(config, integration, full=args.full,
                                       requested_by=f"cli:{getpass.getuser()}",
                                       on_progress=show_progress))
    except ConfigError as err:
        for problem in err.problems:
            print(f"psad: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except IntegrationBusy as err:
        print(f"psad: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"run {report.run_id} {report.integration}: {report.outcome}")
    numbers = ("fetched", "created", "updated", "unchanged", "deleted", "rejected", "requests")
    print(format_table(("entity", "mode", *numbers),
                       [(r.entity.value, r.mode, *(getattr(r, n) for n in numbers))
                        for r in report.entities], right=frozenset(numbers)))
    if report.error:
        print(f"error: {report.error}", file=sys.stderr)
    return {"succeeded": EXIT_OK, "partial": EXIT_PARTIAL}.get(report.outcome, EXIT_FAILED)


def cmd_simulate(args: argparse.Namespace) -> int:
    from psad.simulators.serve import serve_simulator

    return asyncio.run(serve_simulator(args))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
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
