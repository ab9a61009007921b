"""The daemon's lifecycle: bind, tell systemd, watch, reload on SIGHUP, stop cleanly.

It drives ``AppRunner``/``TCPSite`` itself instead of ``web.run_app`` so that
``READY=1`` goes to systemd only after the port is bound, and so that SIGHUP
can reload the config in place.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import logging
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, ProcessCollector

from psad.config import Config
from psad.config_file import load_config, load_or_exit
from psad.errors import ConfigError
from psad.exit_codes import EXIT_CONFIG, EXIT_FAILED
from psad.interpreter import tune_interpreter
from psad.metrics import Metrics
from psad.runtime import Runtime
from psad.store import DatabaseUnavailable
from psad.systemd import Notifier, watchdog_interval
from psad.web.app import STOP_TIMEOUT, create_app
from psad.web.server import GuardedSite, ServerLimits

log = logging.getLogger("psad.daemon")

MAX_LOOP_LAG = 5.0


class StartupFailed(Exception):
    """The daemon cannot start here: its port or its database is unusable (the message says which)."""

    def __init__(self, message: str, *, port_in_use: bool = False) -> None:
        super().__init__(message)
        self.port_in_use = port_in_use


class Daemon:
    def __init__(self, config: Config, *, config_path: Path | None = None,
                 notifier: Notifier | None = None,
                 registry: CollectorRegistry | None = None) -> None:
        self.config_path = config_path
        self.notifier = notifier or Notifier()
        if registry is None:
            registry = CollectorRegistry()
            ProcessCollector(registry=registry)
        self.runtime = Runtime(config, Metrics(registry))
        self.app = create_app(self.runtime, start_work=False)
        self.stopping = asyncio.Event()
        self.url = ""
        self._tasks: set[asyncio.Task[object]] = set()

    async def run(self, on_ready: asyncio.Event | None = None) -> None:
        """Open the database, bind the port, and only then touch any run.

        A start that fails (busy port, unusable database) raises
        :class:`StartupFailed` having resumed, queued or changed nothing.
        """
        tune_interpreter()
        config = self.runtime.config
        runner = web.AppRunner(self.app, handle_signals=False, access_log=None,
                               shutdown_timeout=10)
        loop = asyncio.get_running_loop()
        working = listening = False
        try:
            try:
                await runner.setup()
            except DatabaseUnavailable as err:
                raise StartupFailed(f"cannot open {err}") from None
            site = GuardedSite(runner, config.server.listen_host, config.server.listen_port,
                               ServerLimits(config.server.idle_timeout_seconds,
                                            config.server.max_connections))
            try:
                await site.start()
            except OSError as err:
                raise StartupFailed(
                    f"cannot listen on {config.server.listen_host}:{config.server.listen_port}"
                    f" (server.listen): {err.strerror or err}",
                    port_in_use=err.errno == errno.EADDRINUSE) from None
            listening = True
            host, port = runner.addresses[0][:2]
            self.url = f"http://{host}:{port}"
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stopping.set)
            loop.add_signal_handler(signal.SIGHUP, self._spawn_reload)
            log.info("psad listening on %s", self.url)
            await self.runtime.start()
            working = True
            # Start-up objects (modules, config, templates) live as long as the process;
            # frozen, they drop out of every full collection, which would otherwise
            # pause the loop for tens of milliseconds (a ticket call's p99).
            gc.freeze()
            self.notifier.ready(self.status_line())
            if on_ready is not None:
                on_ready.set()
            watchdog = asyncio.create_task(self._watch())
            await self.stopping.wait()
            log.info("stopping: no new work; running syncs end after their current page")
            self.notifier.stopping()
            watchdog.cancel()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            if working:
                await self.runtime.stop(timeout=STOP_TIMEOUT)
            await runner.cleanup()
            if listening:
                log.info("psad stopped")

    def status_line(self) -> str:
        rt = self.runtime
        if not rt.ready:
            return "starting"
        return (f"{len(rt.queue.running)} running, {len(rt.queue.waiting)} queued, "
                f"{len(rt.config.integrations)} integrations")

    def _spawn_reload(self) -> None:
        task = asyncio.create_task(self.reload())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reload(self) -> bool:
        """Load the config file again; a bad one is refused and the old one stays."""
        if self.config_path is None:
            log.warning("reload asked, but psad was not started from a config file")
            return False
        self.notifier.reloading()
        try:
            new = await asyncio.to_thread(load_config, self.config_path)
        except ConfigError as err:
            for problem in err.problems:
                log.error("reload refused, keeping the running config: %s", problem)
            self.notifier.ready(self.status_line())
            return False
        old = self.runtime.config
        for what, before, after in (
                ("database", old.database, new.database),
                ("server", old.server, new.server),
                ("sync.workers", old.sync.workers, new.sync.workers)):
            if before != after:
                log.warning("reload: %s changed; it takes effect at the next restart", what)
        await self.runtime.reload(new)
        self.notifier.ready(self.status_line())
        return True

    async def _watch(self) -> None:
        """Ping the systemd watchdog while the loop is responsive and the DB answers."""
        interval = watchdog_interval()
        period = interval if interval else 10.0
        while True:
            started = time.monotonic()
            await asyncio.sleep(period)
            lag = time.monotonic() - started - period
            healthy = lag < MAX_LOOP_LAG and await self.runtime.store.ping()
            if interval and healthy:
                self.notifier.watchdog()
            elif interval:
                log.error("health check failed (loop lag %.1fs); not pinging the watchdog", lag)
            self.notifier.status(self.status_line())


def cmd_run(args: argparse.Namespace) -> int:
    config = load_or_exit(args.config)
    try:
        asyncio.run(Daemon(config, config_path=args.config).run())
    except ConfigError as err:
        for problem in err.problems:
            log.error("%s", problem)
        return EXIT_CONFIG
    except StartupFailed as err:
        log.error("%s", err)
        return EXIT_FAILED
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(run_demo(args))
    except StartupFailed as err:
        log.error("%s", err)
        return EXIT_FAILED


async def run_demo(args: argparse.Namespace) -> int:
    """The demo until Ctrl-C; its temporary folder goes with it unless ``--keep``."""
    temporary = args.dir is None
    directory = args.dir or Path(tempfile.mkdtemp(prefix="psad-demo-"))
    try:
        return await _demo(args, directory)
    finally:
        if temporary and not args.keep:
            await asyncio.to_thread(shutil.rmtree, directory, True)


async def _demo(args: argparse.Namespace, directory: Path) -> int:
    from psad.demo import start_demo

    demo = await start_demo(directory, port=args.port, companies=args.companies,
                            assets=args.assets, contacts=args.contacts,
                            token=secrets.token_urlsafe(24))
    daemon = Daemon(demo.config, config_path=demo.config_path)
    ready = asyncio.Event()
    task = asyncio.create_task(daemon.run(on_ready=ready))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        await demo.stop()
        try:
            task.result()
        except StartupFailed as err:
            if not err.port_in_use:
                raise
            print(f"psad: port {args.port} is already in use; pick another with --port "
                  "(make demo PORT=...)", file=sys.stderr)
        return 1
    print(demo.banner(daemon.url), flush=True)
    try:
        await task
    finally:
        await demo.stop()
    return 0
