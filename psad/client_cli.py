"""CLI commands that talk to a running daemon: ``psad sync``, ``status``, ``runs``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import shutil
import sys
import time
from typing import Any

import aiohttp

from psad.config import Config
from psad.progress import progress_line
from psad.tables import format_table

FINAL = ("succeeded", "partial", "failed", "interrupted", "cancelled")
POLL_SECONDS = 0.5
LINE_EVERY = 5.0
"""Seconds between plain progress lines when the output is not a terminal."""
BAR_WIDTH = 24


class DaemonError(Exception):
    pass


class DaemonClient:
    def __init__(self, config: Config, session: aiohttp.ClientSession, token: str) -> None:
        host = config.server.listen_host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        self.base = f"http://{host}:{config.server.listen_port}"
        self.session = session
        self.headers = {"Authorization": f"Bearer {token}",
                        "X-Psad-User": getpass.getuser()}

    async def call(self, method: str, path: str, **params: Any) -> Any:
        try:
            async with self.session.request(method, self.base + path, params=params or None,
                                            headers=self.headers) as resp:
                body = await resp.json(content_type=None)
                if resp.status >= 400:
                    message = body.get("error") if isinstance(body, dict) else str(body)
                    raise DaemonError(f"{method} {path}: HTTP {resp.status}: {message}")
                return body
        except aiohttp.ClientConnectionError as err:
            raise DaemonError(f"cannot reach psad at {self.base}: {err}") from None


async def _with_client(config: Config, body: Any) -> int:
    from psad.cli import EXIT_CONFIG, EXIT_FAILED

    if config.server.api_token is None:
        print("psad: server.api_token is not configured", file=sys.stderr)
        return EXIT_CONFIG
    token = await config.server.api_token.read()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        try:
            result: int = await body(DaemonClient(config, session, token))
            return result
        except DaemonError as err:
            print(f"psad: {err}", file=sys.stderr)
            return EXIT_FAILED


def _load(args: argparse.Namespace) -> Config:
    from psad.cli import _load as load

    return load(args.config)


class ProgressView:
    """``psad sync --wait``: a bar redrawn in place on a terminal, else a line now and then."""

    def __init__(self, terminal: bool) -> None:
        self.terminal = terminal
        self.last_line = 0.0
        self.drawn = False

    def show(self, progress: dict[str, Any]) -> None:
        line = progress_line(progress)
        if self.terminal:
            filled = round(BAR_WIDTH * progress["percent"] / 100)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            text = f"[{bar}] {progress['percent']:5.1f}% {line}"
            width = shutil.get_terminal_size().columns - 1
            print("\r" + text[:width].ljust(width), end="", flush=True)
            self.drawn = True
        elif time.monotonic() - self.last_line >= LINE_EVERY:
            self.last_line = time.monotonic()
            print(f"  {line}", flush=True)

    def end(self) -> None:
        if self.drawn:
            print(flush=True)


def cmd_sync(args: argparse.Namespace) -> int:
    from psad.cli import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, unknown_integration

    config = _load(args)
    if config.integration(args.name) is None:
        return unknown_integration(config, args.name)

    async def body(client: DaemonClient) -> int:
        params = {"full": "true"} if args.full else {}
        answer = await client.call("POST", f"/api/integrations/{args.name}/sync", **params)
        run_id = answer["run_id"]
        where = f"position {answer['position']}" if answer["position"] else "running"
        print(f"run {run_id} queued for {args.name} ({where})"
              + (" — already queued, joined it" if answer["deduplicated"] else ""), flush=True)
        if not args.wait:
            return EXIT_OK
        view = ProgressView(sys.stdout.isatty())
        while True:
            run = await client.call("GET", f"/api/runs/{run_id}")
            if run["outcome"] in FINAL:
                break
            if run.get("progress"):
                view.show(run["progress"])
            await asyncio.sleep(POLL_SECONDS)
        view.end()
        _print_run(run)
        return {"succeeded": EXIT_OK, "partial": EXIT_PARTIAL}.get(run["outcome"], EXIT_FAILED)

    return asyncio.run(_with_client(config, body))


def _print_run(run: dict[str, Any]) -> None:
    print(f"run {run['id']} {run['integration']}: {run['outcome']}"
          + (f" ({run['error']})" if run.get("error") else ""))
    for e in run.get("entities", []):
        print(f"  {e['entity']:<16} {e['mode']:<11} fetched={e['fetched']} "
              f"created={e['created']} updated={e['updated']} unchanged={e['unchanged']} "
              f"deleted={e['deleted']} rejected={e['rejected']}")
    for err in run.get("errors", [])[:20]:
        print(f"  error {err['entity'] or ''} {err['psa_id'] or ''}: {err['message']}")


def cmd_status(args: argparse.Namespace) -> int:
    async def body(client: DaemonClient) -> int:
        answer = await client.call("GET", "/api/integrations")
        rows = []
        for i in answer["integrations"]:
            state = i["state"]
            if i["queued"]:
                state += f" #{i['queued']['position']}"
            if i["running"] and i["running"]["entity"]:
                state = f"running {i['running']['entity']}"
            last = i["last_run"]
            last_text = f"{last['outcome']} {last['finished_at'][:19]}" if last else "never"
            rows.append((i["name"], i["kind"], state, last_text, (i["next_run"] or "-")[:19]))
        print(format_table(("integration", "kind", "state", "last run", "next nightly"), rows))
        return 0

    return asyncio.run(_with_client(_load(args), body))


def cmd_runs(args: argparse.Namespace) -> int:
    async def body(client: DaemonClient) -> int:
        params: dict[str, Any] = {"limit": args.limit}
        if args.name:
            params["integration"] = args.name
        answer = await client.call("GET", "/api/runs", **params)
        print(format_table(
            ("run", "integration", "trigger", "outcome", "queued", "requested by"),
            [(r["id"], r["integration"], r["trigger"], r["outcome"], r["queued_at"][:19],
              r["requested_by"]) for r in answer["runs"]], right=frozenset({"run"})))
        return 0

    return asyncio.run(_with_client(_load(args), body))
