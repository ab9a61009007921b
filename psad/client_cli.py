"""CLI commands that talk to a running daemon: ``psad sync``, ``status``, ``runs``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from psad.config import ServerConfig
from psad.config_file import load_config
from psad.errors import ConfigError
from psad.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, EXIT_PARTIAL
from psad.progress import progress_line
from psad.tables import format_table

FINAL = ("succeeded", "partial", "failed", "interrupted", "cancelled")
URL_ENV, TOKEN_ENV = "PSAD_URL", "PSAD_TOKEN"
POLL_SECONDS = 0.5
LINE_EVERY = 5.0
"""Seconds between plain progress lines when the output is not a terminal."""
BAR_WIDTH = 24


class DaemonError(Exception):
    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def listen_url(server: ServerConfig) -> str:
    """Where this machine reaches the daemon: its listen address (loopback for a wildcard)."""
    host = server.listen_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{server.listen_port}"


def daemon_target(config_path: Path) -> tuple[str, str]:
    """The daemon's URL and API token: $PSAD_URL and $PSAD_TOKEN, else from the config.

    Only what is missing from the environment is read from the config (the
    listen address, the ``server.api_token`` secret). ConfigError says which
    value is missing and where psad looked.
    """
    url = os.environ.get(URL_ENV, "").strip().rstrip("/")
    token = os.environ.get(TOKEN_ENV, "").strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError([f"{URL_ENV}: must be the daemon's http(s) URL, got {url!r}"])
    if url and token:
        return url, token
    missing = " and ".join(n for n, v in ((URL_ENV, url), (TOKEN_ENV, token)) if not v)
    try:
        config = load_config(config_path)
    except ConfigError as err:
        raise ConfigError([*err.problems, f"{missing} not set either: set {missing}, or point "
                                          f"--config at the daemon's config file"]) from None
    if not token:
        ref = config.server.api_token
        if ref is None:
            raise ConfigError([f"{config_path}: server.api_token is not configured and "
                               f"{TOKEN_ENV} is not set"])
        try:
            token = ref.read_sync()
        except ConfigError as err:
            raise ConfigError([*(f"{config_path}: {p}" for p in err.problems),
                               f"set {TOKEN_ENV} to the API token to run psad commands "
                               f"without access to that secret"]) from None
    return url or listen_url(config.server), token


class DaemonClient:
    def __init__(self, base: str, session: aiohttp.ClientSession, token: str) -> None:
        self.base = base
        self.session = session
        self.headers = {"Authorization": f"Bearer {token}",
                        "X-Psad-User": getpass.getuser()}

    async def call(self, method: str, path: str, **params: Any) -> Any:
        try:
            async with self.session.request(method, self.base + path, params=params or None,
                                            headers=self.headers) as resp:
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    raise DaemonError(f"{method} {path}: HTTP {resp.status}, and not psad's "
                                      f"JSON: is {self.base} psad?") from None
                if resp.status >= 400:
                    message = body.get("error") if isinstance(body, dict) else str(body)
                    raise DaemonError(f"{method} {path}: HTTP {resp.status}: {message}",
                                      resp.status)
                return body
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as err:
            raise DaemonError(f"cannot reach psad at {self.base}: "
                              f"{err or type(err).__name__}") from None


async def _with_client(args: argparse.Namespace,
                       body: Callable[[DaemonClient], Awaitable[int]]) -> int:
    try:
        base, token = await asyncio.to_thread(daemon_target, args.config)
    except ConfigError as err:
        for problem in err.problems:
            print(f"psad: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        try:
            return await body(DaemonClient(base, session, token))
        except DaemonError as err:
            print(f"psad: {err}", file=sys.stderr)
            return EXIT_FAILED


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


def unknown_integration(name: str, known: Iterable[str]) -> int:
    """Say which integrations exist; an unknown name is a usage error (exit 2)."""
    print(f"psad: no integration named {name!r} (configured: {', '.join(known) or 'none'})",
          file=sys.stderr)
    return EXIT_CONFIG


def cmd_sync(args: argparse.Namespace) -> int:
    async def body(client: DaemonClient) -> int:
        params = {"full": "true"} if args.full else {}
        try:
            answer = await client.call("POST", f"/api/integrations/{args.name}/sync", **params)
        except DaemonError as err:
            if err.status != 404:
                raise
            answer = await client.call("GET", "/api/integrations")
            return unknown_integration(args.name, [i["name"] for i in answer["integrations"]])
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

    return asyncio.run(_with_client(args, body))


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

    return asyncio.run(_with_client(args, body))


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

    return asyncio.run(_with_client(args, body))
