"""The sd_notify protocol, spoken directly: one datagram to ``$NOTIFY_SOCKET``.

``READY=1`` once the database is migrated and the HTTP port is bound,
``STATUS=`` for ``systemctl status``, ``WATCHDOG=1`` from the event loop
while it is healthy, ``RELOADING=1`` around a config reload and
``STOPPING=1`` when shutdown starts. Without ``$NOTIFY_SOCKET`` every call is
a no-op, so psad runs the same outside systemd.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger("psad.systemd")


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self.address: str | None = None
        if address:
            self.address = "\0" + address[1:] if address.startswith("@") else address

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, **fields: str | int) -> bool:
        if self.address is None:
            return False
        message = "\n".join(f"{k.upper()}={v}" for k, v in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.sendto(message, self.address)
        except OSError as err:
            log.warning("cannot notify systemd at %s: %s", self.address, err)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify(ready=1, status=status)

    def status(self, status: str) -> bool:
        return self.notify(status=status)

    def stopping(self) -> bool:
        return self.notify(stopping=1, status="stopping")

    def reloading(self) -> bool:
        return self.notify(reloading=1, monotonic_usec=time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)

    def watchdog(self) -> bool:
        return self.notify(watchdog=1)


def watchdog_interval() -> float | None:
    """Half the watchdog period systemd asked for, or None when there is none for us."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000
