"""The dashboard's jinja2 environment: autoescaped, strict, with filters for time.

Templates live in the repo-root ``templates/`` folder (``PSAD_TEMPLATES``
overrides it). Every value is escaped unless a template says otherwise, and
no template ever marks PSA data safe.
"""

from __future__ import annotations

import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jinja2
from aiohttp import web

from psad.connectors.registry import display_name
from psad.web.keys import TEMPLATES_KEY



def templates_dir() -> Path:
    """``$PSAD_TEMPLATES``, else the source tree's ``templates/``, else the installed copy."""
    override = os.environ.get("PSAD_TEMPLATES")
    if override:
        return Path(override).resolve()
    source = Path(__file__).resolve().parents[2] / "templates"
    if source.is_dir():
        return source
    return Path(sys.prefix) / "share" / "psad" / "templates"


def _moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        hours, rest = divmod(seconds, 3600)
        return f"{int(hours)} h {int(rest // 60)} min" if rest >= 60 else f"{int(hours)} h"
    return f"{int(seconds // 86400)} d"


def ago(value: Any, now: datetime | None = None) -> str:
    """``3 min ago`` / ``in 5 h``; an empty or unreadable value is ``never``."""
    moment = _moment(value)
    if moment is None:
        return "never"
    delta = ((now or datetime.now(UTC)) - moment).total_seconds()
    if abs(delta) < 5:
        return "just now"
    return f"{_span(delta)} ago" if delta > 0 else f"in {_span(delta)}"


def iso(value: Any) -> str:
    """The exact moment in UTC, for a ``title`` or ``datetime`` attribute."""
    moment = _moment(value)
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(start: Any, end: Any) -> str:
    began, ended = _moment(start), _moment(end)
    if began is None:
        return "—"
    seconds = ((ended or datetime.now(UTC)) - began).total_seconds()
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes} min {rest} s" if minutes else f"{rest} s"
    return _span(seconds)


def vendor(kind: Any) -> str:
    """A connector kind as people name the product (``connectwise`` → ConnectWise PSA)."""
    return display_name(str(kind))


def number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


_BARE_HOST = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:\d{1,5})?(/\S*)?$")


def http_url(value: Any) -> str | None:
    """A link target only for plain http(s) URLs; a bare ``host.tld/path`` gets https://."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _BARE_HOST.match(text):
        text = f"https://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(
            c.isspace() or ord(c) < 32 for c in text):
        return None
    return text


def segment(value: Any) -> str:
    """A value quoted for use as one URL path segment."""
    return quote(str(value), safe="")


def query(params: dict[str, Any], **changes: Any) -> str:
    """A ``?a=1&b=2`` string of the non-empty values, with ``changes`` applied."""
    merged = {**params, **changes}
    kept = [(k, str(v)) for k, v in merged.items() if v not in (None, "", False)]
    return "?" + urlencode(kept) if kept else "?"


def create_environment(directory: Path | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory or templates_dir()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ago=ago, iso=iso, number=number, http_url=http_url,
                       segment=segment, vendor=vendor)
    env.globals.update(duration=duration, query=query)
    return env


def setup(app: web.Application, directory: Path | None = None) -> Path:
    """Put the environment on the app; returns the templates folder."""
    folder = directory or templates_dir()
    app[TEMPLATES_KEY] = create_environment(folder)
    return folder


def render(request: web.Request, name: str, context: dict[str, Any], *,
           status: int = 200) -> web.Response:
    html = request.app[TEMPLATES_KEY].get_template(name).render(context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
