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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from psad.cron import cron_trigger
from psad.errors import ConfigError
from psad.logs import MIN_SECRET_LENGTH, register_secret
from psad.settings import TOKEN_MIN_LENGTH, Setting, default_of

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
LISTEN_RE = re.compile(r"\[?([^\]]*)\]?:([0-9]{1,5})")
Kinds = Mapping[str, tuple[Setting, ...]]
"""Each connector kind's own settings table, handed in by :mod:`psad.config_file`."""

TOP_SETTINGS = (
    Setting("database", "the SQLite database file (relative paths are relative to the config "
            "file), or a postgresql:// URL without its password"),
    Setting("database_password", "the PostgreSQL password, when database is a URL",
            secret=True, required=False),
)
POSTGRES_SCHEMES = ("postgresql", "postgres")
SERVER_SETTINGS = (
    Setting("listen", "HOST:PORT the API, dashboard and /metrics listen on",
            default="127.0.0.1:8080"),
    Setting("api_token", "bearer token for the API and the dashboard login",
            secret=True, required=False, min_length=TOKEN_MIN_LENGTH),
    Setting("metrics_token", "separate bearer token Prometheus may use for /metrics",
            secret=True, required=False, min_length=TOKEN_MIN_LENGTH),
    Setting("public_url", "the address users reach psad at; https makes the session cookie "
            "Secure", required=False),
    Setting("trusted_proxies", "addresses of reverse proxies whose X-Forwarded-Proto and "
            "X-Forwarded-For psad believes", type=list, default=()),
    Setting("idle_timeout_seconds", "seconds a connection may sit idle or take to send a "
            "request's headers", type=float, default=15.0, minimum=1, maximum=3600),
    Setting("max_connections", "open connections served at once; more get 503",
            type=int, default=1024, minimum=1, maximum=100_000),
)
SYNC_SETTINGS = (
    Setting("workers", "syncs that may run at once", type=int, default=2, minimum=1,
            maximum=64),
    Setting("jitter_seconds", "nightly runs start up to this many seconds after their cron "
            "time", type=int, default=900, minimum=0, maximum=6 * 3600),
    Setting("max_delete_share", "refuse a deletion sweep deleting more than this share",
            type=float, default=0.5, minimum=0.0, maximum=1.0),
    Setting("delete_guard_days", "the deletion share is measured against the highest live "
            "count of this many days", type=int, default=7, minimum=0, maximum=365),
    Setting("cursor_overlap_seconds", "incremental fetches reach back this far",
            type=int, default=300, minimum=0, maximum=86400),
    Setting("request_timeout_seconds", "timeout of one PSA request", type=float, default=60.0,
            minimum=1, maximum=3600),
    Setting("max_retries", "retries of a failed PSA request", type=int, default=5, minimum=0,
            maximum=20),
    Setting("entity_concurrency", "entities of one integration fetched at once", type=int,
            default=4, minimum=1, maximum=8),
    Setting("full_sweep_triggers", "runs that list every id for the deletion sweep even when "
            "counts prove nothing was deleted", type=list, default=("nightly",)),
    Setting("run_lease_seconds", "with a PostgreSQL database, seconds after which another "
            "instance interrupts and queues again the runs of one that stopped renewing them",
            type=float, default=60.0, minimum=3, maximum=3600),
)
RUN_TRIGGERS = ("nightly", "startup", "manual", "force")
INTEGRATION_SETTINGS = (
    Setting("name", "lower-case letters, digits, '-' and '_' (max 63)"),
    Setting("kind", "the PSA: one of the connector kinds"),
    Setting("base_url", "the PSA's API base URL"),
    Setting("enabled", "false keeps the integration configured but never synced", type=bool,
            default=True),
    Setting("schedule", "nightly sync, five cron fields (0 and 7 are Sunday)",
            default="0 4 * * *"),
    Setting("timezone", "the time zone the schedule is in", default="UTC"),
    Setting("page_size", "records per page (the PSA's maximum when unset)", type=int,
            required=False, minimum=1, maximum=1000),
    Setting("max_concurrency", "concurrent requests to this PSA", type=int, default=4,
            minimum=1, maximum=32),
    Setting("requests_per_second", "request rate cap", type=float, required=False,
            minimum=0.01, maximum=10_000),
)
COMPANY_FILTER_SETTINGS = (
    Setting("statuses", "company statuses in scope (empty: all)", type=list, default=()),
    Setting("types", "company types in scope (empty: all)", type=list, default=()),
)
CUSTOM_FIELDS_SETTINGS = (
    Setting("assets", "asset custom fields to copy, by their name in the PSA", type=list,
            default=()),
    Setting("contacts", "contact custom fields to copy", type=list, default=()),
)
SECTIONS: dict[str, tuple[Setting, ...]] = {
    "": TOP_SETTINGS, "server": SERVER_SETTINGS, "sync": SYNC_SETTINGS,
    "integrations": INTEGRATION_SETTINGS,
    "integrations.company_filter": COMPANY_FILTER_SETTINGS,
    "integrations.custom_fields": CUSTOM_FIELDS_SETTINGS,
}
"""Every table of the file by its section; connector kinds add their own to integrations."""
DEFAULT_SCHEDULE: str = default_of(INTEGRATION_SETTINGS, "schedule")
"""04:00 local: outside the 01:00–03:00 window where DST skips or repeats hours."""


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret lives. Exactly one of the three is set.

    ``key`` is the setting's key path, named in every problem reading it
    reports; a value shorter than ``min_length`` is refused.
    """

    env: str | None = None
    file: Path | None = None
    credential: str | None = None
    key: str = field(default="secret", compare=False)
    min_length: int = field(default=MIN_SECRET_LENGTH, compare=False)

    def describe(self) -> str:
        if self.env:
            return f"env:{self.env}"
        if self.file:
            return f"file:{self.file}"
        return f"credential:{self.credential}"

    def _problem(self, message: str) -> ConfigError:
        return ConfigError([f"{self.key}: {message}"])

    def read_sync(self) -> str:
        """The secret's value; ConfigError naming the key path if it is missing or too short."""
        if self.env:
            value = os.environ.get(self.env)
            if value is None:
                raise self._problem(f"environment variable {self.env} is not set")
            return self._checked(value.strip())
        path = self.file
        if self.credential:
            directory = os.environ.get("CREDENTIALS_DIRECTORY")
            if not directory:
                raise self._problem(f"credential {self.credential!r} needs "
                                    "$CREDENTIALS_DIRECTORY (LoadCredential= in the unit)")
            path = Path(directory) / self.credential
        assert path is not None
        try:
            return self._checked(path.read_text(encoding="utf-8").strip())
        except OSError as err:
            raise self._problem(f"cannot read secret file {path}: {err.strerror}") from None

    def _checked(self, value: str) -> str:
        if len(value) < self.min_length:
            raise self._problem(f"{self.describe()} holds {len(value)} characters; a secret "
                                f"here needs at least {self.min_length}")
        return value

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
    """One ``[[integrations]]`` entry.

    ``settings`` holds the connector's own non-secret settings that are set,
    type-checked against its table and handed over as text (``60``, ``true``):
    the connectors' contract.
    """

    name: str
    kind: str
    base_url: str
    settings: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, SecretRef] = field(default_factory=dict)
    enabled: bool = default_of(INTEGRATION_SETTINGS, "enabled")
    schedule: str = DEFAULT_SCHEDULE
    timezone: str = default_of(INTEGRATION_SETTINGS, "timezone")
    company_filter: CompanyFilter = CompanyFilter()
    asset_custom_fields: tuple[str, ...] = ()
    contact_custom_fields: tuple[str, ...] = ()
    page_size: int | None = None
    max_concurrency: int = default_of(INTEGRATION_SETTINGS, "max_concurrency")
    requests_per_second: float | None = None


DEFAULT_HOST, _, DEFAULT_PORT = default_of(SERVER_SETTINGS, "listen").rpartition(":")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen_host: str = DEFAULT_HOST
    listen_port: int = int(DEFAULT_PORT)
    api_token: SecretRef | None = None
    metrics_token: SecretRef | None = None
    public_url: str | None = None
    trusted_proxies: frozenset[str] = frozenset()
    """Addresses whose X-Forwarded-Proto / X-Forwarded-For psad believes."""
    idle_timeout_seconds: float = default_of(SERVER_SETTINGS, "idle_timeout_seconds")
    max_connections: int = default_of(SERVER_SETTINGS, "max_connections")

    def secrets(self) -> list[SecretRef]:
        return [ref for ref in (self.api_token, self.metrics_token) if ref is not None]


@dataclass(frozen=True, slots=True)
class SyncConfig:
    workers: int = default_of(SYNC_SETTINGS, "workers")
    jitter_seconds: int = default_of(SYNC_SETTINGS, "jitter_seconds")
    max_delete_share: float = default_of(SYNC_SETTINGS, "max_delete_share")
    delete_guard_days: int = default_of(SYNC_SETTINGS, "delete_guard_days")
    cursor_overlap_seconds: int = default_of(SYNC_SETTINGS, "cursor_overlap_seconds")
    request_timeout_seconds: float = default_of(SYNC_SETTINGS, "request_timeout_seconds")
    max_retries: int = default_of(SYNC_SETTINGS, "max_retries")
    entity_concurrency: int = default_of(SYNC_SETTINGS, "entity_concurrency")
    full_sweep_triggers: tuple[str, ...] = default_of(SYNC_SETTINGS, "full_sweep_triggers")
    run_lease_seconds: float = default_of(SYNC_SETTINGS, "run_lease_seconds")
    """Runs that list every id for the deletion sweep even when counts prove nothing
    was deleted (``nightly``, ``startup``, ``manual``, ``force``)."""


@dataclass(frozen=True, slots=True)
class PostgresDatabase:
    """A PostgreSQL database: its URL (never with a password) and where the password lives."""

    url: str
    password: SecretRef | None = None


@dataclass(frozen=True, slots=True)
class Config:
    database: Path | PostgresDatabase
    server: ServerConfig
    sync: SyncConfig
    integrations: tuple[IntegrationConfig, ...]
    source: Path | None = None

    def integration(self, name: str) -> IntegrationConfig | None:
        return next((i for i in self.integrations if i.name == name), None)

    def secrets(self) -> list[SecretRef]:
        """Every secret the file names, server tokens first."""
        database = self.database
        password = database.password if isinstance(database, PostgresDatabase) else None
        return [*self.server.secrets(), *([password] if password else []),
                *(ref for i in self.integrations for ref in i.secrets.values())]


def _key(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


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
                self.fail(_key(path, key), "unknown key")

    def values(self, doc: Mapping[str, Any], table: tuple[Setting, ...], path: str, *,
               elsewhere: Iterable[str] | None = (), secret_path: str | None = None,
               whose: str = "") -> dict[str, Any]:
        """Each setting of ``table`` from ``doc``: typed, checked, or its default.

        Keys in ``elsewhere`` are read by another call; any other key is unknown
        (``elsewhere=None``: not checked here). Secrets are named by ``secret_path``
        (default ``path``) in later problems; ``whose`` says whose settings these are.
        """
        if elsewhere is not None:
            self.unknown(doc, {s.name for s in table} | set(elsewhere), path)
        out: dict[str, Any] = {}
        for setting in table:
            key_path = _key(path, setting.name)
            if setting.name not in doc:
                if setting.needed:
                    self.fail(key_path, f"is required{whose} ({setting.help})")
                out[setting.name] = setting.default
            elif setting.secret:
                out[setting.name] = self.secret(doc[setting.name], key_path, setting,
                                                _key(secret_path or path, setting.name))
            else:
                out[setting.name] = self.value(doc[setting.name], key_path, setting)
        return out

    def value(self, raw: Any, path: str, setting: Setting) -> Any:
        kind = setting.type
        ok = not isinstance(raw, bool) or kind is bool
        if kind is float:
            ok = ok and isinstance(raw, (int, float))
        elif kind is list:
            ok = isinstance(raw, list) and all(isinstance(v, str) and v for v in raw)
        elif kind is str:
            ok = isinstance(raw, str) and bool(raw.strip())
        else:
            ok = ok and isinstance(raw, kind)
        if not ok:
            self.fail(path, f"must be {setting.describe_type()}, got {raw!r}"[:200])
            return setting.default
        low, high = setting.minimum, setting.maximum
        if low is not None and high is not None and not low <= raw <= high:
            self.fail(path, f"must be between {low:g} and {high:g}, got {raw}")
            return setting.default
        if kind is list:
            return tuple(raw)
        return float(raw) if kind is float else raw

    def secret(self, value: Any, path: str, setting: Setting, key: str) -> SecretRef | None:
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
        (where,) = keys
        raw = value[where]
        if not isinstance(raw, str) or not raw:
            self.fail(f"{path}.{where}", "must be a non-empty string")
            return None
        length = setting.min_length
        if where == "env":
            return SecretRef(env=raw, key=key, min_length=length)
        if where == "file":
            return SecretRef(file=self.base_dir / raw, key=key, min_length=length)
        if "/" in raw:
            self.fail(f"{path}.credential", "is a credential name, not a path")
            return None
        return SecretRef(credential=raw, key=key, min_length=length)


def _check_cron(expr: str) -> str | None:
    try:
        cron_trigger(expr)
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


def _database(r: _Reader, raw: str | None, password: SecretRef | None,
              base_dir: Path) -> Path | PostgresDatabase:
    """A file path keeps SQLite; a postgresql:// URL selects PostgreSQL."""
    parts = urlsplit(raw or "")
    if raw is None or parts.scheme not in POSTGRES_SCHEMES:
        if password is not None:
            r.fail("database_password", "is only for a postgresql:// database")
        database = Path(raw or "psad.db")
        return database if database.is_absolute() else base_dir / database
    if parts.password is not None:
        r.fail("database", "passwords are never inline: remove it from the URL and set "
                           'database_password = { env = "VAR" }, { file = "/path" } or '
                           '{ credential = "name" }')
        return PostgresDatabase(url="", password=password)
    if parts.fragment:
        r.fail("database", "must not carry a fragment")
    return PostgresDatabase(url=raw, password=password)


def _setting_text(value: Any) -> str:
    """A checked connector setting as the text connectors read (``true``, ``60``, ``a,b``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def _integration(r: _Reader, doc: Any, path: str, kinds: Kinds) -> IntegrationConfig | None:
    if not isinstance(doc, dict):
        r.fail(path, "must be a table")
        return None
    kind = doc.get("kind")
    own = kinds.get(kind, ()) if isinstance(kind, str) else ()
    if isinstance(kind, str) and kind not in kinds:
        # its own keys are unknown too: only the common ones are checked
        r.fail(f"{path}.kind", f"unknown kind {kind!r}; one of {', '.join(sorted(kinds))}")
        doc = {k: v for k, v in doc.items() if k in {s.name for s in INTEGRATION_SETTINGS}}
    values = r.values(doc, INTEGRATION_SETTINGS, path,
                      elsewhere=("company_filter", "custom_fields", *(s.name for s in own)))
    name, base_url = values["name"], values["base_url"]
    values.update(r.values(doc, own, path, elsewhere=None, whose=f" for kind {kind!r}",
                           secret_path=f"integrations.{name}" if name else path))
    if name is not None and not NAME_RE.match(name):
        r.fail(f"{path}.name", "must be lower-case letters, digits, '-' or '_' (max 63)")
    if base_url is not None and (problem := _check_url(base_url)):
        r.fail(f"{path}.base_url", problem)
    if problem := _check_cron(values["schedule"]):
        r.fail(f"{path}.schedule", problem)
    try:
        ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        r.fail(f"{path}.timezone", f"unknown time zone {values['timezone']!r}")
    filt = r.values(r.table(doc, "company_filter", f"{path}.company_filter"),
                    COMPANY_FILTER_SETTINGS, f"{path}.company_filter")
    custom = r.values(r.table(doc, "custom_fields", f"{path}.custom_fields"),
                      CUSTOM_FIELDS_SETTINGS, f"{path}.custom_fields")
    if name is None or values["kind"] is None or base_url is None:
        return None
    return IntegrationConfig(
        name=name,
        kind=values["kind"],
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        settings={s.name: _setting_text(values[s.name]) for s in own
                  if not s.secret and values[s.name] is not None},
        secrets={s.name: values[s.name] for s in own
                 if s.secret and values[s.name] is not None},
        enabled=values["enabled"],
        schedule=values["schedule"],
        timezone=values["timezone"],
        company_filter=CompanyFilter(statuses=filt["statuses"], types=filt["types"]),
        asset_custom_fields=custom["assets"],
        contact_custom_fields=custom["contacts"],
        page_size=values["page_size"],
        max_concurrency=values["max_concurrency"],
        requests_per_second=values["requests_per_second"],
    )


def _server(r: _Reader, doc: Mapping[str, Any]) -> ServerConfig:
    values = r.values(r.table(doc, "server", "server"), SERVER_SETTINGS, "server")
    host, port = DEFAULT_HOST, int(DEFAULT_PORT)
    match = LISTEN_RE.fullmatch(values["listen"])
    if match is None or not 0 <= int(match.group(2)) <= 65535 or not match.group(1):
        r.fail("server.listen", f"must be HOST:PORT, got {values['listen']!r}")
    else:
        host, port = match.group(1), int(match.group(2))
    return ServerConfig(
        listen_host=host, listen_port=port, api_token=values["api_token"],
        metrics_token=values["metrics_token"], public_url=values["public_url"],
        trusted_proxies=frozenset(values["trusted_proxies"]),
        idle_timeout_seconds=values["idle_timeout_seconds"],
        max_connections=values["max_connections"])


def parse_config(doc: Mapping[str, Any], *, base_dir: Path, kinds: Kinds,
                 source: Path | None = None) -> Config:
    """Validate a parsed TOML document; raises ConfigError listing every problem.

    ``kinds`` holds each connector kind's settings table (see :mod:`psad.config_file`).
    """
    r = _Reader(base_dir)
    top = r.values(doc, TOP_SETTINGS, "", elsewhere=("server", "sync", "integrations"))
    database = _database(r, top["database"], top["database_password"], base_dir)
    server = _server(r, doc)
    sync = SyncConfig(**r.values(r.table(doc, "sync", "sync"), SYNC_SETTINGS, "sync"))
    if unknown_triggers := set(sync.full_sweep_triggers) - set(RUN_TRIGGERS):
        r.fail("sync.full_sweep_triggers", f"unknown run triggers {sorted(unknown_triggers)}; "
               f"choose from {', '.join(RUN_TRIGGERS)}")

    raw_integrations = doc.get("integrations", [])
    integrations: list[IntegrationConfig] = []
    if not isinstance(raw_integrations, list):
        r.fail("integrations", "must be an array of tables ([[integrations]])")
        raw_integrations = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw_integrations):
        integration = _integration(r, item, f"integrations[{index}]", kinds)
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


def read_config(path: Path, kinds: Kinds) -> Config:
    """Read and validate a config file (blocking; call before the loop or in a thread)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([f"{path}: cannot read: {err.strerror}"]) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"{path}: invalid TOML: {err}"]) from None
    return parse_config(doc, base_dir=path.parent.resolve(), kinds=kinds, source=path.resolve())


def unreadable_secrets(config: Config) -> list[str]:
    """Every secret that cannot be read or is too short, by key path (blocking)."""
    problems: list[str] = []
    for ref in config.secrets():
        try:
            ref.read_sync()
        except ConfigError as err:
            problems.extend(err.problems)
    return problems


async def read_secrets(integration: IntegrationConfig) -> dict[str, str]:
    """Resolve every secret of an integration; errors name the key path."""
    values: dict[str, str] = {}
    problems: list[str] = []
    for name, ref in integration.secrets.items():
        try:
            values[name] = await ref.read()
            register_secret(values[name])
        except ConfigError as err:
            problems.extend(err.problems)
    if problems:
        raise ConfigError(problems)
    return values
