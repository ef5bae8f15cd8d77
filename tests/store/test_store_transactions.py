"""Transactions and concurrency, on every backend: a failed write leaves nothing, reads are
read-only snapshots, writes are serialized, and the foreign-commit mark."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping

import pytest
from store_factories import at, session, workspace

from corral.store import Store, StoreError, Tx, open_store

# -- transactions ----------------------------------------------------------------------


class Boom(Exception):
    pass


async def test_failed_write_leaves_nothing_behind(seeded: Store) -> None:
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


async def test_reads_are_read_only(seeded: Store) -> None:
    with pytest.raises(StoreError):
        await seeded.read(lambda tx: tx.insert_workspace(workspace("ws_sneaky")))
    assert await seeded.read(lambda tx: tx.get_workspace("ws_sneaky")) is None


async def test_async_fn_is_refused(seeded: Store) -> None:
    async def not_sync(tx: Tx) -> None:
        tx.insert_workspace(workspace("ws_async"))

    with pytest.raises(TypeError, match="synchronous"):
        await seeded.write(not_sync)


async def test_closed_store_refuses_work(database_url: str) -> None:
    store = open_store(database_url)
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
    database_url: str,
) -> None:
    here, elsewhere = open_store(database_url), open_store(database_url)
    await here.open()
    await elsewhere.open()
    try:
        mark = await here.foreign_commit_mark()
        await here.write(lambda tx: tx.insert_workspace(workspace("ws_here")))
        await here.read(lambda tx: tx.get_workspace("ws_here"))
        assert await here.foreign_commit_mark() == mark
        await elsewhere.write(lambda tx: tx.insert_workspace(workspace("ws_elsewhere")))
        moved = await here.foreign_commit_mark()
        assert moved != mark
        assert await here.foreign_commit_mark() == moved
    finally:
        await here.close()
        await elsewhere.close()


# -- concurrency -----------------------------------------------------------------------


async def test_concurrent_writers_get_contiguous_cursors(seeded: Store) -> None:
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


async def test_reads_proceed_while_a_long_write_holds_the_lock(seeded: Store) -> None:
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


async def test_writers_of_two_stores_sharing_a_database_get_contiguous_cursors(
    seeded: Store, database_url: str
) -> None:
    other = open_store(database_url)  # as another process would
    await other.open()
    try:
        appends = [
            store.write(lambda tx, i=i: tx.append_event("ses_1", None, "x", {"i": i}, at(i)).cursor)
            for i in range(40)
            for store in (seeded, other)
        ]
        cursors = await asyncio.gather(*appends)
    finally:
        await other.close()
    assert sorted(cursors) == list(range(1, 81))


# -- event listeners -------------------------------------------------------------------


async def test_listeners_hear_each_commit_on_the_committing_thread_and_never_a_rollback(
    seeded: Store,
) -> None:
    heard: list[tuple[dict[str, int], str]] = []

    def listener(cursors: Mapping[str, int]) -> None:
        heard.append((dict(cursors), threading.current_thread().name))

    def failing(cursors: Mapping[str, int]) -> None:
        raise RuntimeError("a listener's failure undoes nothing")

    seeded.add_event_listener(failing)
    seeded.add_event_listener(listener)
    await seeded.write(lambda tx: tx.insert_session(session("ses_2")))  # no event: not heard

    def two_sessions(tx: Tx) -> None:
        for i in range(3):
            tx.append_event("ses_1", None, "x", {}, at(i))
        tx.append_event("ses_2", None, "x", {}, at(9))

    await seeded.write(two_sessions)

    def doomed(tx: Tx) -> None:
        tx.append_event("ses_1", None, "x", {}, at(10))
        raise Boom("rolled back")

    with pytest.raises(Boom):
        await seeded.write(doomed)
    assert [cursors for cursors, _ in heard] == [{"ses_1": 3, "ses_2": 1}]
    assert heard[0][1].startswith("corral-") and "writer" in heard[0][1]
    assert await seeded.read(lambda tx: tx.last_event_cursor("ses_1")) == 3
