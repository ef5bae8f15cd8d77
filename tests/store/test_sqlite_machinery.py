"""What only the SQLite store has: its URLs, WAL file and migrations by user_version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from store_factories import workspace

from corral.store import open_store
from corral.store.sql.migrations import Migration, load_migrations
from corral.store.sqlite import SqliteStore
from corral.store.sqlite.migrate import migrate, split_statements

# -- open_store ------------------------------------------------------------------------


def test_open_store_parses_sqlite_urls(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/a/b/corral.db")
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "a" / "b" / "corral.db"
    assert store.kind == "sqlite"


@pytest.mark.parametrize(
    "url", ["sqlite://host/x.db", "sqlite:///:memory:", "sqlite://relative.db", "sqlite:///"]
)
def test_open_store_rejects_bad_sqlite_urls(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        open_store(url)


def test_open_store_names_supported_schemes() -> None:
    with pytest.raises(ValueError, match=r"unsupported .*'mysql'.*supported: sqlite://"):
        open_store("mysql://db/corral")


async def test_open_creates_parent_dirs_and_uses_wal(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/deep/er/corral.db")
    await store.open()
    try:
        assert await store.ping()
    finally:
        await store.close()
    assert not await store.ping()
    with sqlite3.connect(tmp_path / "deep" / "er" / "corral.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- migrations ------------------------------------------------------------------------


def _schema(path: Path) -> tuple[int, list[str]]:
    with sqlite3.connect(path) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master ORDER BY name")]
    return version, names


async def test_migrations_are_idempotent_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "corral.db"
    async with SqliteStore(path) as store:
        await store.write(lambda tx: tx.insert_workspace(workspace()))
    first = _schema(path)
    assert first[0] == len(load_migrations("sqlite")) >= 1
    assert "session_events" in first[1]

    async with SqliteStore(path) as store:
        assert await store.read(lambda tx: tx.get_workspace("ws_1")) is not None
    assert _schema(path) == first


def test_failed_migration_rolls_back_and_keeps_the_version(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    ok = Migration(1, "0001_a.sql", "CREATE TABLE a (x INTEGER);")
    bad = Migration(2, "0002_b.sql", "CREATE TABLE b (x INTEGER);\nINSERT INTO nowhere VALUES (1);")
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, [ok, bad])
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == {"a"}
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1

    fixed = Migration(2, "0002_b.sql", "CREATE TABLE b (x INTEGER);")
    assert migrate(conn, [ok, fixed]) == 2
    with pytest.raises(RuntimeError, match="newer"):
        migrate(conn, [ok])
    conn.close()


def test_split_statements_handles_comments_and_strings() -> None:
    sql = (
        "-- a; comment\nCREATE TABLE t (x TEXT DEFAULT 'a;b');\nINSERT INTO t VALUES (1);\n-- end\n"
    )
    assert split_statements(sql) == [
        "-- a; comment\nCREATE TABLE t (x TEXT DEFAULT 'a;b');",
        "INSERT INTO t VALUES (1);",
    ]
    with pytest.raises(ValueError, match="unterminated"):
        split_statements("CREATE TABLE t (x)")
