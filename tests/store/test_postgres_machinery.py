"""What only the PostgreSQL store has: its URLs, migrations under an advisory lock, the
database's own guard on a session's executing run, text without NUL, the foreign-commit mark's
bookkeeping, and connections replaced when the server dropped them."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from store_factories import at, run, session, workspace

from corral.store import ConflictError, Store, StoreError, Tx, open_store
from corral.store.postgres import PostgresStore
from corral.store.postgres.migrate import migrate, schema_version
from corral.store.sql.migrations import Migration, load_migrations
from corral.testing.waiting import wait_for


@pytest.fixture
def backend() -> str:
    return "postgres"


# -- open_store ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["postgresql://corral@db.internal:5433/corral", "postgres://u:pw@localhost/c"]
)
def test_open_store_takes_postgres_urls(url: str) -> None:
    store = open_store(url)
    assert isinstance(store, PostgresStore)
    assert store.kind == "postgres"


def test_open_store_rejects_a_malformed_postgres_url() -> None:
    with pytest.raises(
        ValueError, match=re.escape("invalid PostgreSQL URL 'postgresql://u:***@h/db")
    ):
        open_store("postgresql://u:secret@h/db?no_such_parameter=1")


def test_open_store_names_supported_schemes() -> None:
    with pytest.raises(ValueError, match=r"'mysql'.*supported: sqlite://, postgresql://"):
        open_store("mysql://db/corral")


async def test_an_unreachable_server_fails_open_without_showing_the_password() -> None:
    store = open_store("postgresql://corral:s3cret@127.0.0.1:1/corral")
    with pytest.raises(StoreError, match=re.escape("corral:***@127.0.0.1:1")) as failed:
        await store.open()
    assert "s3cret" not in str(failed.value)
    assert not await store.ping()


# -- migrations ------------------------------------------------------------------------


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    return {r[0] for r in rows}


def test_many_processes_opening_a_fresh_database_at_once_migrate_it_once(
    database_url: str,
) -> None:
    opening = 8
    ready = threading.Barrier(opening)
    errors: list[BaseException] = []

    async def open_and_write(i: int) -> None:
        store = open_store(database_url)
        ready.wait(30)  # all open together, on a database without a table yet
        await store.open()
        try:
            await store.write(lambda tx: tx.insert_workspace(workspace(f"ws_{i}")))
        finally:
            await store.close()

    def opener(i: int) -> None:
        try:
            asyncio.run(open_and_write(i))
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=opener, args=(i,)) for i in range(opening)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with psycopg.connect(database_url) as conn:
        versions = conn.execute("SELECT version FROM store_schema_versions").fetchall()
        workspaces = conn.execute("SELECT count(*) FROM workspaces").fetchone()
    assert versions == [(m.version,) for m in load_migrations("postgres")]
    assert workspaces == (opening,)


def test_a_failed_migration_rolls_back_and_keeps_the_version(database_url: str) -> None:
    ok = Migration(1, "0001_a.sql", "CREATE TABLE a (x integer);")
    bad = Migration(2, "0002_b.sql", "CREATE TABLE b (x integer);\nINSERT INTO nowhere VALUES (1);")
    with psycopg.connect(database_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):
            migrate(conn, [ok, bad])
        assert _tables(database_url) == {"a", "store_schema_versions"}
        assert schema_version(conn) == 1

        fixed = Migration(2, "0002_b.sql", "CREATE TABLE b (x integer);")
        assert migrate(conn, [ok, fixed]) == 2
        assert migrate(conn, [ok, fixed]) == 2  # nothing left: no lock taken, nothing done
        with pytest.raises(RuntimeError, match="newer"):
            migrate(conn, [ok])
        # The advisory lock was given back every time.
        locks = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        assert locks.fetchone() == (0,)


# -- what the database guards ----------------------------------------------------------


async def test_the_database_refuses_a_second_executing_run_of_a_session(seeded: Store) -> None:
    await seeded.write(lambda tx: tx.insert_run(run("run_a", status="running")))
    with pytest.raises(ConflictError, match="runs_one_executing_per_session"):
        await seeded.write(lambda tx: tx.insert_run(run("run_b", status="waiting_tool")))
    # Queued runs, ended runs and other sessions' runs are not held back.
    await seeded.write(lambda tx: tx.insert_session(session("ses_2")))
    await seeded.write(lambda tx: tx.insert_run(run("run_c", "ses_2", status="running")))
    await seeded.write(lambda tx: tx.insert_run(run("run_d", status="queued")))
    await seeded.write(lambda tx: tx.insert_run(run("run_e", status="completed")))


async def test_text_keeps_all_but_nul_and_json_keeps_its_text(seeded: Store) -> None:
    rec = session("ses_nul", title="a\x00b – ü")
    data: dict[str, Any] = {"z": "nul \x00 kept", "a": [1, 2.5, None], "m": {"y": 1, "b": 2}}
    await seeded.write(lambda tx: tx.insert_session(rec))
    await seeded.write(lambda tx: tx.append_event("ses_nul", None, "x", data, at(1)))
    got = await seeded.read(lambda tx: tx.get_session("ses_nul"))
    assert got is not None and got.title == "a\ufffdb – ü"
    [event] = await seeded.read(lambda tx: tx.list_events("ses_nul", 0, 10))
    assert event.data == data
    assert list(event.data) == ["z", "a", "m"] and list(event.data["m"]) == ["y", "b"]


# -- the foreign-commit mark -----------------------------------------------------------


async def test_the_mark_ignores_own_writes_racing_the_look_and_sees_each_foreign_one(
    seeded: Store, database_url: str
) -> None:
    elsewhere = open_store(database_url)
    await elsewhere.open()
    try:
        mark = await seeded.foreign_commit_mark()
        writes = [
            seeded.write(lambda tx, i=i: tx.append_event("ses_1", None, "x", {}, at(i)))
            for i in range(60)
        ]
        writing = asyncio.gather(*writes)
        while not writing.done():  # looks interleaved with the commits of this store
            assert await seeded.foreign_commit_mark() == mark
        await writing
        assert await seeded.foreign_commit_mark() == mark

        for i in range(3):
            await seeded.write(lambda tx: tx.touch_session("ses_1", at(1)))
            await elsewhere.write(lambda tx, i=i: tx.insert_workspace(workspace(f"ws_e{i}")))
            await seeded.write(lambda tx: tx.touch_session("ses_1", at(2)))
            moved = await seeded.foreign_commit_mark()
            assert moved != mark
            mark = moved
    finally:
        await elsewhere.close()


# -- connections -----------------------------------------------------------------------


def _backends(admin: psycopg.Connection[Any], app: str) -> int:
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (app,)
    ).fetchone()
    return int(row[0]) if row else 0


async def test_connections_the_server_dropped_are_replaced_without_failing_work(
    database_url: str,
) -> None:
    app = "corral_dropped_test"
    store = open_store(f"{database_url}&application_name={app}")
    await store.open()

    def drop_all() -> None:
        with psycopg.connect(database_url, autocommit=True) as admin:
            assert _backends(admin, app) == 5  # one writer, four readers
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (app,),
            )
            wait_for(lambda: _backends(admin, app) == 0, what="the store's backends to end")

    try:
        await store.write(lambda tx: tx.insert_workspace(workspace()))
        drop_all()
        await store.write(lambda tx: tx.insert_session(session()))
        reads = await asyncio.gather(
            *(store.read(lambda tx: tx.get_session("ses_1")) for _ in range(8))
        )
        assert all(r is not None and r.id == "ses_1" for r in reads)
        drop_all()
        assert await store.ping()
    finally:
        await store.close()


# -- write batches ---------------------------------------------------------------------


class Boom(Exception):
    pass


def _commits(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT seq FROM store_commits").fetchone()
    return int(row[0]) if row else 0


async def test_writes_waiting_together_commit_together_and_fail_alone(
    seeded: Store, database_url: str
) -> None:
    inside, release = threading.Event(), threading.Event()

    def hold(tx: Tx) -> None:
        tx.append_event("ses_1", None, "x", {"n": 0}, at(0))
        inside.set()
        assert release.wait(60), "test never released the writer"

    def append(n: int) -> Callable[[Tx], int]:
        return lambda tx: tx.append_event("ses_1", None, "x", {"n": n}, at(n)).cursor

    def failing(tx: Tx) -> None:
        tx.append_event("ses_1", None, "x", {"n": "lost"}, at(9))
        raise Boom("only this write is undone")

    def swallowing(tx: Tx) -> None:
        tx.append_event("ses_1", None, "x", {"n": "lost too"}, at(9))
        with contextlib.suppress(ConflictError):
            tx.insert_session(session("ses_1"))  # a duplicate: the transaction is aborted

    before = _commits(database_url)
    holding = asyncio.create_task(seeded.write(hold))
    assert await asyncio.to_thread(inside.wait, 60)
    waiting = [
        asyncio.ensure_future(seeded.write(fn))
        for fn in (append(1), failing, append(2), swallowing, append(3))
    ]
    await asyncio.sleep(0)  # one turn of the loop: each write is queued behind `hold`
    release.set()
    await holding
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert results[0::2] == [2, 3, 4]
    assert isinstance(results[1], Boom)
    assert isinstance(results[3], StoreError) and "went on" in str(results[3])
    events = await seeded.read(lambda tx: tx.list_events("ses_1", 0, 100))
    assert [e.data["n"] for e in events] == [0, 1, 2, 3]
    assert _commits(database_url) == before + 2  # `hold`, then the five in one transaction
