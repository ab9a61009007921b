"""TOML configuration → frozen, typed objects.

Every problem found is reported with its key path (``integrations[2].base_url``)
and all of them at once, so an operator fixes a file in one pass. Secrets are
never inline: a secret setting names where to read it from (an environment
variable, a file, or a systemd credential).
"""

from __future__ import annotations

import asyncio
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from psad.errors import ConfigError
from psad.logs import register_secret

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
DEFAULT_SCHEDULE = "0 4 * * *"
"""04:00 local: outside the 01:00–03:00 window where DST skips or repeats hours."""


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret lives. Exactly one of the three is set."""

    env: str | None = None
    file: Path | None = None
    credential: str | None = None

    def describe(self) -> str:
        if self.env:
            return f"env:{self.env}"
        if self.file:
            return f"file:{self.file}"
        return f"credential:{self.credential}"

    def read_sync(self) -> str:
        if self.env:
            value = os.environ.get(self.env)
            if value is None:
                raise ConfigError([f"environment variable {self.env} is not set"])
            return value.strip()
        path = self.file
        if self.credential:
            directory = os.environ.get("CREDENTIALS_DIRECTORY")
            if not directory:
                raise ConfigError(
                    [f"credential {self.credential!r} needs $CREDENTIALS_DIRECTORY (LoadCredential=)"]
                )
            path = Path(directory) / self.credential
        assert path is not None
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ConfigError([f"cannot read secret file {path}: {err.strerror}"]) from None

    async def read(self) -> str:
        return await asyncio.to_thread(self.read_sync)


@dataclass(frozen=True, slots=True)
class CompanyFilter:
    """Companies to keep in scope; empty tuples mean no restriction."""

    statuses: tuple[str, ...] = ()
    types: tuple[str, ...] = ()

    def includes(self, status: str | None, types: tuple[str, ...]) -> bool:
        if self.statuses and status not in self.statuses:
            return False
        if self.types and not set(types) & set(self.types):
            return False
        return True


@dataclass(frozen=True, slots=True)
class IntegrationConfig:
    name: str
    kind: str
    base_url: str
    settings: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, SecretRef] = field(default_factory=dict)
    enabled: bool = True
    schedule: str = DEFAULT_SCHEDULE
    timezone: str = "UTC"
    company_filter: CompanyFilter = CompanyFilter()
    asset_custom_fields: tuple[str, ...] = ()
    contact_custom_fields: tuple[str, ...] = ()
    page_size: int | None = None
    max_concurrency: int = 4
    requests_per_second: float | None = None


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    api_token: SecretRef | None = None
    metrics_token: SecretRef | None = None
    public_url: str | None = None


@dataclass(frozen=True, slots=True)
class SyncConfig:
    workers: int = 2
    jitter_seconds: int = 900
    max_delete_share: float = 0.5
    cursor_overlap_seconds: int = 300
    request_timeout_seconds: float = 60.0
    max_retries: int = 5
    entity_concurrency: int = 4
    full_sweep_triggers: tuple[str, ...] = ("nightly",)
    """Runs that list every id for the deletion sweep even when counts prove nothing
    was deleted (``nightly``, ``startup``, ``manual``, ``force``)."""


@dataclass(frozen=True, slots=True)
class Config:
    database: Path
    server: ServerConfig
    sync: SyncConfig
    integrations: tuple[IntegrationConfig, ...]
    source: Path | None = None

    def integration(self, name: str) -> IntegrationConfig | None:
        return next((i for i in self.integrations if i.name == name), None)


class _Reader:
    """Walks a parsed TOML document, collecting problems instead of raising."""

    def __init__(self, base_dir: Path) -> None:
        self.problems: list[str] = []
        self.base_dir = base_dir

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def table(self, doc: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        value = doc.get(key, {})
        if not isinstance(value, dict):
            self.fail(path, "must be a table")
            return {}
        return value

    def unknown(self, doc: Mapping[str, Any], allowed: set[str], path: str) -> None:
        for key in doc:
            if key not in allowed:
                self.fail(f"{path}.{key}" if path else key, "unknown key")

    def string(self, doc: Mapping[str, Any], key: str, path: str, default: str | None = None,
               required: bool = False) -> str | None:
        if key not in doc:
            if required:
                self.fail(path, "is required")
            return default
        value = doc[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "must be a non-empty string")
            return default
        return value

    def number(self, doc: Mapping[str, Any], key: str, path: str, default: float | None, *,
               minimum: float, maximum: float, integer: bool = True) -> Any:
        if key not in doc:
            return default
        value = doc[key]
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            self.fail(path, f"must be {'an integer' if integer else 'a number'}")
            return default
        if not minimum <= value <= maximum:
            self.fail(path, f"must be between {minimum:g} and {maximum:g}, got {value}")
            return default
        return value

    def boolean(self, doc: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = doc.get(key, default)
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")
            return default
        return value

    def strings(self, doc: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = doc.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(path, "must be a list of non-empty strings")
            return ()
        return tuple(value)

    def secret(self, value: Any, path: str) -> SecretRef | None:
        if isinstance(value, str):
            self.fail(path, 'secrets are never inline: use { env = "VAR" }, { file = "/path" } '
                            'or { credential = "name" }')
            return None
        if not isinstance(value, dict):
            self.fail(path, 'must be { env = "VAR" }, { file = "/path" } or { credential = "name" }')
            return None
        keys = set(value) & {"env", "file", "credential"}
        extra = set(value) - {"env", "file", "credential"}
        if len(keys) != 1 or extra:
            self.fail(path, "needs exactly one of env, file, credential")
            return None
        (key,) = keys
        raw = value[key]
        if not isinstance(raw, str) or not raw:
            self.fail(f"{path}.{key}", "must be a non-empty string")
            return None
        if key == "env":
            return SecretRef(env=raw)
        if key == "file":
            return SecretRef(file=self.base_dir / raw)
        if "/" in raw:
            self.fail(f"{path}.credential", "is a credential name, not a path")
            return None
        return SecretRef(credential=raw)


def _check_cron(expr: str) -> str | None:
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        return f"must have five fields (minute hour day month weekday), got {len(fields)}"
    minute, hour, day, month, dow = fields
    try:
        CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=dow)
    except ValueError as err:
        return f"invalid cron expression: {err}"
    return None


def _check_url(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL with a host"
    if parts.query or parts.fragment:
        return "must not carry a query or fragment"
    return None


def _integration(r: _Reader, doc: Any, path: str) -> IntegrationConfig | None:
    from psad.connectors import CONNECTORS

    if not isinstance(doc, dict):
        r.fail(path, "must be a table")
        return None
    name = r.string(doc, "name", f"{path}.name", required=True)
    if name is not None and not NAME_RE.match(name):
        r.fail(f"{path}.name", "must be lower-case letters, digits, '-' or '_' (max 63)")
    kind = r.string(doc, "kind", f"{path}.kind", required=True)
    connector = CONNECTORS.get(kind or "")
    if kind is not None and connector is None:
        r.fail(f"{path}.kind", f"unknown kind {kind!r}; one of {', '.join(sorted(CONNECTORS))}")
    base_url = r.string(doc, "base_url", f"{path}.base_url", required=True)
    if base_url is not None and (problem := _check_url(base_url)):
        r.fail(f"{path}.base_url", problem)
    schedule = r.string(doc, "schedule", f"{path}.schedule", DEFAULT_SCHEDULE) or DEFAULT_SCHEDULE
    if problem := _check_cron(schedule):
        r.fail(f"{path}.schedule", problem)
    timezone = r.string(doc, "timezone", f"{path}.timezone", "UTC") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail(f"{path}.timezone", f"unknown time zone {timezone!r}")

    filt = r.table(doc, "company_filter", f"{path}.company_filter")
    r.unknown(filt, {"statuses", "types"}, f"{path}.company_filter")
    custom = r.table(doc, "custom_fields", f"{path}.custom_fields")
    r.unknown(custom, {"assets", "contacts"}, f"{path}.custom_fields")

    known = {"name", "kind", "base_url", "enabled", "schedule", "timezone", "company_filter",
             "custom_fields", "page_size", "max_concurrency", "requests_per_second"}
    settings: dict[str, str] = {}
    secrets: dict[str, SecretRef] = {}
    if connector is not None:
        for setting in connector.settings:
            known.add(setting.name)
            key_path = f"{path}.{setting.name}"
            if setting.name not in doc:
                if setting.required:
                    r.fail(key_path, f"is required for kind {kind!r} ({setting.help})")
                continue
            if setting.secret:
                if (ref := r.secret(doc[setting.name], key_path)) is not None:
                    secrets[setting.name] = ref
            elif (value := r.string(doc, setting.name, key_path)) is not None:
                settings[setting.name] = value
        r.unknown(doc, known, path)

    if name is None or kind is None or base_url is None:
        return None
    return IntegrationConfig(
        name=name,
        kind=kind,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        settings=settings,
        secrets=secrets,
        enabled=r.boolean(doc, "enabled", f"{path}.enabled", True),
        schedule=schedule,
        timezone=timezone,
        company_filter=CompanyFilter(
            statuses=r.strings(filt, "statuses", f"{path}.company_filter.statuses"),
            types=r.strings(filt, "types", f"{path}.company_filter.types"),
        ),
        asset_custom_fields=r.strings(custom, "assets", f"{path}.custom_fields.assets"),
        contact_custom_fields=r.strings(custom, "contacts", f"{path}.custom_fields.contacts"),
        page_size=r.number(doc, "page_size", f"{path}.page_size", None, minimum=1, maximum=1000),
        max_concurrency=r.number(doc, "max_concurrency", f"{path}.max_concurrency", 4,
                                 minimum=1, maximum=32),
        requests_per_second=r.number(doc, "requests_per_second", f"{path}.requests_per_second",
                                     None, minimum=0.01, maximum=10_000, integer=False),
    )


def parse_config(doc: Mapping[str, Any], *, base_dir: Path, source: Path | None = None) -> Config:
    """Validate a parsed TOML document; raises ConfigError listing every problem."""
    r = _Reader(base_dir)
    r.unknown(doc, {"database", "server", "sync", "integrations"}, "")

    db_raw = r.string(doc, "database", "database", required=True)
    database = Path(db_raw) if db_raw else Path("psad.db")
    if not database.is_absolute():
        database = base_dir / database

    srv = r.table(doc, "server", "server")
    r.unknown(srv, {"listen", "api_token", "metrics_token", "public_url"}, "server")
    host, port = "127.0.0.1", 8080
    listen = r.string(srv, "listen", "server.listen", "127.0.0.1:8080") or "127.0.0.1:8080"
    match = re.fullmatch(r"\[?([^\]]*)\]?:(\d{1,5})", listen)
    if match is None or not 0 <= int(match.group(2)) <= 65535 or not match.group(1):
        r.fail("server.listen", f"must be HOST:PORT, got {listen!r}")
    else:
        host, port = match.group(1), int(match.group(2))
    server = ServerConfig(
        listen_host=host,
        listen_port=port,
        api_token=r.secret(srv["api_token"], "server.api_token") if "api_token" in srv else None,
        metrics_token=(r.secret(srv["metrics_token"], "server.metrics_token")
                       if "metrics_token" in srv else None),
        public_url=r.string(srv, "public_url", "server.public_url"),
    )

    sy = r.table(doc, "sync", "sync")
    r.unknown(sy, {"workers", "jitter_seconds", "max_delete_share", "cursor_overlap_seconds",
                   "request_timeout_seconds", "max_retries", "entity_concurrency",
                   "full_sweep_triggers"}, "sync")
    sweep_triggers = (r.strings(sy, "full_sweep_triggers", "sync.full_sweep_triggers")
                      if "full_sweep_triggers" in sy else ("nightly",))
    if unknown_triggers := set(sweep_triggers) - {"nightly", "startup", "manual", "force"}:
        r.fail("sync.full_sweep_triggers", f"unknown run triggers {sorted(unknown_triggers)}; "
               "choose from nightly, startup, manual, force")
    sync = SyncConfig(
        workers=r.number(sy, "workers", "sync.workers", 2, minimum=1, maximum=64),
        jitter_seconds=r.number(sy, "jitter_seconds", "sync.jitter_seconds", 900,
                                minimum=0, maximum=6 * 3600),
        max_delete_share=r.number(sy, "max_delete_share", "sync.max_delete_share", 0.5,
                                  minimum=0.0, maximum=1.0, integer=False),
        cursor_overlap_seconds=r.number(sy, "cursor_overlap_seconds", "sync.cursor_overlap_seconds",
                                        300, minimum=0, maximum=86400),
        request_timeout_seconds=r.number(sy, "request_timeout_seconds",
                                         "sync.request_timeout_seconds", 60.0, minimum=1,
                                         maximum=3600, integer=False),
        max_retries=r.number(sy, "max_retries", "sync.max_retries", 5, minimum=0, maximum=20),
        entity_concurrency=r.number(sy, "entity_concurrency", "sync.entity_concurrency", 4,
                                    minimum=1, maximum=8),
        full_sweep_triggers=sweep_triggers,
    )

    raw_integrations = doc.get("integrations", [])
    integrations: list[IntegrationConfig] = []
    if not isinstance(raw_integrations, list):
        r.fail("integrations", "must be an array of tables ([[integrations]])")
        raw_integrations = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw_integrations):
        integration = _integration(r, item, f"integrations[{index}]")
        if integration is None:
            continue
        if integration.name in seen:
            r.fail(f"integrations[{index}].name",
                   f"duplicate name {integration.name!r} (also integrations[{seen[integration.name]}])")
            continue
        seen[integration.name] = index
        integrations.append(integration)

    if r.problems:
        raise ConfigError(r.problems)
    return Config(database=database, server=server, sync=sync,
                  integrations=tuple(integrations), source=source)


def load_config(path: Path) -> Config:
    """Read and validate a config file (blocking; call before the loop or in a thread)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([f"{path}: cannot read: {err.strerror}"]) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"{path}: invalid TOML: {err}"]) from None
    return parse_config(doc, base_dir=path.parent.resolve(), source=path.resolve())


async def read_secrets(integration: IntegrationConfig) -> dict[str, str]:
    """Resolve every secret of an integration; errors name the key path."""
    values: dict[str, str] = {}
    problems: list[str] = []
    for name, ref in integration.secrets.items():
        try:
            values[name] = await ref.read()
            register_secret(values[name])
        except ConfigError as err:
            problems.extend(f"integrations.{integration.name}.{name}: {p}" for p in err.problems)
    if problems:
        raise ConfigError(problems)
    return values
