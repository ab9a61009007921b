"""Logging: one line per event, fit for a terminal or journald.

Repeated identical lines are collapsed into one plus a count.
``--log-format json`` writes one JSON object per line for log shippers.
Under systemd (``$JOURNAL_STREAM`` set) each line starts with its syslog
priority (``<3>`` error … ``<7>`` debug) so journald files it at the right
level. Anything that looks like a credential is redacted before it is
written, whatever logger produced it; the store applies the same
:func:`redact` to every error it keeps.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import sys
from urllib.parse import quote, quote_plus

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}
_PATTERNS = [
    re.compile(r"(?i)\b((?:basic|bearer)\s+)[A-Za-z0-9+/=._~-]{8,}"),
    re.compile(r"(?i)((?:api_key|apikey|access_token|client_secret|password|secret|token)"
               r"['\"]?\s*[=:]\s*['\"]?)[^\s&'\",}]+"),
]
MIN_SECRET_LENGTH = 8
"""Shorter values are never registered: no secret is that short, and they would redact words."""
_known_secrets: list[str] = []
"""Registered values and their encoded forms, longest first (a longer form is never left
half-redacted by a shorter one inside it)."""


def encoded_forms(value: str) -> set[str]:
    """``value`` as it may travel or be echoed back: itself, URL- and form-encoded,
    base64 (a Basic credential) and JSON-escaped."""
    raw = value.encode()
    return {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1],
            base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
            base64.b64encode(raw).decode().rstrip("=")}


def register_secret(value: str) -> None:
    """Never let this value, nor an encoded form of it, reach a log line or the sync log.

    Connectors register the credential strings they build from secrets too
    (ConnectWise's ``company+public:private``), so its Basic base64 is caught.
    """
    if len(value) < MIN_SECRET_LENGTH:
        return
    forms = {f for f in encoded_forms(value) if len(f) >= MIN_SECRET_LENGTH}
    _known_secrets[:] = sorted(forms.union(_known_secrets), key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` without registered secrets or anything that looks like a credential."""
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


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (redacted)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname,
                 "logger": record.name, "message": redact(record.getMessage())}
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry)


class CollapsingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes a run of identical lines once, then how many more times it came."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self._last: tuple[int, str, str] | None = None
        self._last_record: logging.LogRecord | None = None
        self._repeats = 0

    def emit(self, record: logging.LogRecord) -> None:
        key = (record.levelno, record.name, record.getMessage())
        if key == self._last:
            self._repeats += 1
            return
        self._flush_repeats()
        self._last, self._last_record = key, record
        super().emit(record)

    def _flush_repeats(self) -> None:
        if self._repeats and self._last_record is not None:
            last = self._last_record
            summary = logging.LogRecord(
                last.name, last.levelno, last.pathname, last.lineno,
                "(the line above came %d more time%s)", (self._repeats,
                                                          "" if self._repeats == 1 else "s"),
                None)
            super().emit(summary)
        self._repeats = 0

    def close(self) -> None:
        self._flush_repeats()
        super().close()


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("text", "json")


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = CollapsingHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         RedactingFormatter(journald=bool(os.environ.get("JOURNAL_STREAM"))))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)  # every statement, at DEBUG
