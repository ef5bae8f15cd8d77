"""Versioned schema migrations for SQLite (``sql/migrations.py``), tracked with
``PRAGMA user_version``; concurrent openers serialize on ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import sqlite3

from ..sql.migrations import Migration, check_not_newer, load_migrations


def split_statements(sql: str) -> list[str]:
    """Cut a script into statements (executescript would COMMIT our open transaction)."""
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in buffer.splitlines()
    ):
        raise ValueError(f"unterminated SQL statement: {buffer.strip()[:80]!r}")
    return statements


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: list[Migration] | None = None) -> int:
    """Bring the database up to the newest version; return the resulting version."""
    migrations = load_migrations("sqlite") if migrations is None else migrations
    current = user_version(conn)
    check_not_newer(current, migrations)
    for migration in migrations:
        if migration.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            if user_version(conn) >= migration.version:
                conn.execute("ROLLBACK")
                continue
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {migration.version:d}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        current = migration.version
    return user_version(conn)
