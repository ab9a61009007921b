"""Versioned schema migrations, applied in order at start-up.

``PRAGMA user_version`` holds the applied version. A migration never changes
once released; later changes append a new one. Before migrating an existing
database the store copies it aside (see :func:`psad.store.backup_before_migrate`).
"""

from __future__ import annotations

_ENTITY_META = """
    integration TEXT NOT NULL,
    psa_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    out_of_scope INTEGER NOT NULL DEFAULT 0,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
"""

_ADDRESS = """
    address_line1 TEXT, address_line2 TEXT, address_city TEXT,
    address_region TEXT, address_postal_code TEXT, address_country TEXT,
"""


def _entity_table(name: str, columns: str, *, company_index: bool = False) -> str:
    sql = f"""
CREATE TABLE {name} (
{_ENTITY_META}
{columns.strip().rstrip(',')},
    PRIMARY KEY (integration, psa_id)
) WITHOUT ROWID;
CREATE INDEX {name}_live ON {name} (integration, deleted_at);
"""
    if company_index:
        sql += f"CREATE INDEX {name}_company ON {name} (integration, company_psa_id);\n"
    return sql


ENTITY_TABLES = ("company_statuses", "companies", "sites", "assets", "contacts", "boards",
                 "priorities", "ticket_statuses")
COUNTS = ("count(*) FILTER (WHERE deleted_at IS NULL AND out_of_scope = 0), "
          "count(*) FILTER (WHERE deleted_at IS NOT NULL), "
          "count(*) FILTER (WHERE deleted_at IS NULL AND out_of_scope = 1)")
"""A table's live, deleted and out-of-scope rows, as ``entity_counts`` keeps them."""

MIGRATIONS: tuple[str, ...] = (
    # 1: entity tables and the sync log
    _entity_table("company_statuses", "name TEXT NOT NULL, is_default INTEGER NOT NULL")
    + _entity_table("companies", "name TEXT NOT NULL, website TEXT, status TEXT, types TEXT NOT NULL")
    + "CREATE INDEX companies_name ON companies (integration, name COLLATE NOCASE);\n"
    + _entity_table("sites", "company_psa_id TEXT NOT NULL, name TEXT NOT NULL, "
                    "active INTEGER NOT NULL, \"primary\" INTEGER NOT NULL," + _ADDRESS,
                    company_index=True)
    + _entity_table("assets", """
        company_psa_id TEXT, name TEXT NOT NULL, status TEXT, type TEXT, purchase_date TEXT,
        warranty_expiration TEXT, serial_number TEXT, os_type TEXT, notes TEXT,
        manufacturer TEXT, custom_fields TEXT NOT NULL""", company_index=True)
    + _entity_table("contacts", """
        company_psa_id TEXT, first_name TEXT, last_name TEXT, type TEXT, title TEXT,
        email TEXT, phone TEXT,""" + _ADDRESS + """ active INTEGER NOT NULL,
        custom_fields TEXT NOT NULL""", company_index=True)
    + _entity_table("boards", "name TEXT NOT NULL, active INTEGER NOT NULL")
    + _entity_table("priorities", "name TEXT NOT NULL, sort_order INTEGER")
    + _entity_table("ticket_statuses", "name TEXT NOT NULL, board_psa_id TEXT, "
                    "closed INTEGER NOT NULL, sort_order INTEGER")
    + """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    integration TEXT NOT NULL,
    trigger TEXT NOT NULL CHECK (trigger IN ('nightly', 'force', 'startup', 'manual')),
    requested_by TEXT NOT NULL,
    full_sync INTEGER NOT NULL DEFAULT 0,
    queued_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    outcome TEXT NOT NULL DEFAULT 'queued' CHECK (outcome IN
        ('queued', 'running', 'succeeded', 'partial', 'failed', 'interrupted', 'cancelled')),
    current_entity TEXT,
    error TEXT,
    scheduled_for TEXT
);
CREATE INDEX runs_integration ON runs (integration, id);
CREATE INDEX runs_outcome ON runs (outcome, id);

CREATE TABLE run_entities (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    entity TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('full', 'incremental')),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    complete INTEGER NOT NULL DEFAULT 0,
    fetched INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    PRIMARY KEY (run_id, entity)
);

CREATE TABLE run_errors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    entity TEXT,
    psa_id TEXT,
    message TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX run_errors_run ON run_errors (run_id, id);

CREATE TABLE entity_state (
    integration TEXT NOT NULL,
    entity TEXT NOT NULL,
    cursor TEXT,
    last_success_at TEXT,
    last_success_run INTEGER,
    last_full_sweep_at TEXT,
    PRIMARY KEY (integration, entity)
);
""",
    # 2: each entity's highest live count per day, for the mass-delete guard's window
    """
CREATE TABLE entity_high_water (
    integration TEXT NOT NULL,
    entity TEXT NOT NULL,
    day TEXT NOT NULL,
    live INTEGER NOT NULL,
    PRIMARY KEY (integration, entity, day)
) WITHOUT ROWID;
""",
    # 3: dashboard sessions ended by logging out, kept until they would have expired
    """
CREATE TABLE revoked_sessions (
    id TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
) WITHOUT ROWID;
""",
    # 4: live/deleted/out-of-scope rows per entity, kept by the writes that change them
    """
CREATE TABLE entity_counts (
    integration TEXT NOT NULL,
    entity TEXT NOT NULL,
    live INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    out_of_scope INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (integration, entity)
) WITHOUT ROWID;
""" + "".join(
        f"INSERT INTO entity_counts (integration, entity, live, deleted, out_of_scope) "
        f"SELECT integration, '{table}', {COUNTS} FROM {table} GROUP BY integration;\n"
        for table in ENTITY_TABLES),
    # 5: the custom fields each PSA offers on assets and contacts (the set-up page)
    """
CREATE TABLE custom_fields (
    integration TEXT NOT NULL,
    entity TEXT NOT NULL,
    name TEXT NOT NULL,
    records INTEGER NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (integration, entity, name)
) WITHOUT ROWID;
""",
)

SCHEMA_VERSION = len(MIGRATIONS)
