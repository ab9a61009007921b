"""Logging: one line per event, fit for a terminal or journald.

Under systemd (``$JOURNAL_STREAM`` set) each line starts with its syslog
priority (``<3>`` error … ``<7>`` debug) so journald files it at the right
level. Anything that looks like a credential is redacted before it is
written, whatever logger produced it.
"""

from __future__ import annotations

import logging
import os
import re
import sys

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}
_PATTERNS = [
    re.compile(r"(?i)\b((?:basic|bearer)\s+)[A-Za-z0-9+/=._~-]{8,}"),
    re.compile(r"(?i)((?:api_key|apikey|access_token|client_secret|password|secret|token)"
               r"['\"]?\s*[=:]\s*['\"]?)[^\s&'\",}]+"),
]
_known_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Never let this exact value reach a log line (short values would redact noise)."""
    if len(value) >= 6:
        _known_secrets.add(value)


def redact(text: str) -> str:
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, "***")
    for pattern in _PATTERNS:
        text = pattern.sub(r"\1***", text)
    return text


class RedactingFormatter(logging.Formatter):
    def __init__(self, journald: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s" if journald else
                         "%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record)).replace("\n", " | ")
        if self.journald:
            return f"<{_PRIORITY.get(record.levelno, 6)}>{line}"
        return line


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(journald=bool(os.environ.get("JOURNAL_STREAM"))))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
