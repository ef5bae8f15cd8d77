"""Transactions, migrations and concurrency of the SQLite store."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from store_factories import at, session, workspace

from corral.store import StoreError, Tx
from corral.store.sqlite import SqliteStore
from corral.store.sql.migrations import Migration, load_migrations
from corral.store.sqlite.migrate import migrate, split_statements

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


# -- transactions ----------------------------------------------------------------------


class Boom(Exception):
    pass


async def test_failed_write_leaves_nothing_behind(seeded: SqliteStore) -> None:
    err = Boom("nope")

    def doomed(tx: Tx) -> None:
        tx.insert_workspace(workspace("ws_doomed"))
        tx.insert_session(session("ses_doomed", "ws_doomed"))
        tx.append_event("ses_1", None, "run.queued", {}, at(0))
        tx.touch_session("ses_1", at(99))
        raise err

    with pytest.raises(Boom) as caught:
        await seeded.write(doomed)
    assert caught.value is err  # propagated unchanged

    def state(tx: Tx) -> tuple[object, ...]:
        s = tx.get_session("ses_1")
        return (tx.get_workspace("ws_doomed"), tx.last_event_cursor("ses_1"), s and s.updated_at)

    assert await seeded.read(state) == (None, 0, at(0))
    # The writer is healthy afterwards and the next event still gets cursor 1.
    ev = await seeded.write(lambda tx: tx.append_event("ses_1", None, "x", {}, at(1)))
    assert ev.cursor == 1


async def test_reads_are_read_only(seeded: SqliteStore) -> None:
    with pytest.raises(StoreError):
        await seeded.read(lambda tx: tx.insert_workspace(workspace("ws_sneaky")))
    assert await seeded.read(lambda tx: tx.get_workspace("ws_sneaky")) is None


async def test_async_fn_is_refused(seeded: SqliteStore) -> None:
    async def not_sync(tx: Tx) -> None:
        tx.insert_workspace(workspace("ws_async"))

    with pytest.raises(TypeError, match="synchronous"):
        await seeded.write(not_sync)


async def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    with pytest.raises(RuntimeError, match="not open"):
        await store.read(lambda tx: tx.get_workspace("ws_1"))
    await store.open()
    with pytest.raises(RuntimeError, match="already open"):
        await store.open()
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(RuntimeError, match="not open"):
        await store.write(lambda tx: tx.get_workspace("ws_1"))


async def test_the_foreign_commit_mark_moves_only_for_other_processes_commits(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.db"
    async with SqliteStore(path) as here, SqliteStore(path) as elsewhere:
        mark = await here.foreign_commit_mark()
        await here.write(lambda tx: tx.insert_workspace(workspace("ws_here")))
        await here.read(lambda tx: tx.get_workspace("ws_here"))
        assert await here.foreign_commit_mark() == mark
        await elsewhere.write(lambda tx: tx.insert_workspace(workspace("ws_elsewhere")))
        moved = await here.foreign_commit_mark()
        assert moved != mark
        assert await here.foreign_commit_mark() == moved


# -- concurrency -----------------------------------------------------------------------


async def test_concurrent_writers_get_contiguous_cursors(seeded: SqliteStore) -> None:
    await seeded.write(lambda tx: tx.insert_session(session("ses_2")))

    def emitter(i: int) -> Callable[[Tx], tuple[str, int]]:
        ses = "ses_1" if i % 3 else "ses_2"
        return lambda tx: (ses, tx.append_event(ses, None, "engine.log", {"i": i}, at(i)).cursor)

    results = await asyncio.gather(*(seeded.write(emitter(i)) for i in range(50)))
    for ses in ("ses_1", "ses_2"):
        returned = sorted(c for s, c in results if s == ses)
        assert returned == list(range(1, len(returned) + 1))
        stored = await seeded.read(lambda tx, s=ses: tx.list_events(s, 0, 100))
        assert [e.cursor for e in stored] == returned
    assert len(results) == 50


async def test_reads_proceed_while_a_long_write_holds_the_lock(seeded: SqliteStore) -> None:
    inside, release = threading.Event(), threading.Event()

    def slow_write(tx: Tx) -> None:
        tx.insert_workspace(workspace("ws_slow"))
        inside.set()
        assert release.wait(60), "test never released the writer"

    writing = asyncio.create_task(seeded.write(slow_write))
    assert await asyncio.to_thread(inside.wait, 60)

    # The writer is mid-transaction: reads still answer, from the last committed state. Each
    # answer is awaited on the event loop, so the loop keeps running too (the deadline only
    # turns a read stuck behind the writer into a failure).
    for _ in range(5):
        got = await asyncio.wait_for(seeded.read(lambda tx: tx.get_workspace("ws_1")), 30)
        assert got is not None
        assert await seeded.read(lambda tx: tx.get_workspace("ws_slow")) is None
    assert not writing.done()

    release.set()
    await writing
    assert await seeded.read(lambda tx: tx.get_workspace("ws_slow")) is not None
