"""Versioned schema migrations for PostgreSQL (``sql/migrations.py``), recorded in
``store_schema_versions``.

Many processes may start at once on an empty database: the one that finds the schema behind takes
a session-level advisory lock (`MIGRATION_LOCK`), creates the versions table if needed, reads the
version again and applies what is still missing, each migration in its own transaction with its
version row; the others wait on the lock, then find nothing left to do. A process finding the
schema current takes no lock at all.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ..sql.migrations import Migration, check_not_newer, load_migrations

# pg_advisory_lock key for migrations: "corral" in ASCII. Advisory locks are per database.
MIGRATION_LOCK = 0x636F7272616C

_VERSIONS = (
    "CREATE TABLE IF NOT EXISTS store_schema_versions ("
    " version integer PRIMARY KEY, name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())"
)


def schema_version(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    """The newest applied migration; 0 for a database Corral never migrated."""
    if conn.execute("SELECT to_regclass('store_schema_versions')").fetchone() == (None,):
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM store_schema_versions").fetchone()
    return int(row[0]) if row is not None else 0


def migrate(
    conn: psycopg.Connection[tuple[Any, ...]], migrations: list[Migration] | None = None
) -> int:
    """Bring the database up to the newest version on `conn` (autocommit, tuple rows); returns
    the resulting version."""
    migrations = load_migrations("postgres") if migrations is None else migrations
    current = schema_version(conn)
    check_not_newer(current, migrations)
    if all(m.version <= current for m in migrations):
        return current
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        conn.execute(_VERSIONS)
        current = schema_version(conn)  # again under the lock: another process may have gone on
        check_not_newer(current, migrations)
        for migration in migrations:
            if migration.version <= current:
                continue
            with conn.transaction():
                conn.execute(migration.sql)  # a whole script: no parameters, several statements
                conn.execute(
                    "INSERT INTO store_schema_versions (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            current = migration.version
    finally:
        if not conn.broken:  # a lost connection has released the lock with itself
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return current
