"""Inline reads of SqliteStore: a read runs on the event loop first and moves to the reader pool
when SQLite answers BUSY, when it overruns INLINE_BUDGET_S, or when it comes from another thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from store_factories import at, workspace

from corral.errors import CorralError
from corral.store import StoreError, Tx
from corral.store.sqlite import SqliteStore
from corral.store.sqlite import store as sqlite_store


@pytest.fixture
def backend() -> str:
    return "sqlite"


LOOP_THREAD = "MainThread"  # pytest-asyncio runs the test's loop on the main thread
READER = "corral-sqlite-reader"
WRITER = "corral-sqlite-writer"


class Probe:
    """A read fn that records, for each attempt, the thread it ran on and what it raised."""

    def __init__(self, body: Callable[[Tx], Any]) -> None:
        self.body = body
        self.attempts: list[tuple[str, BaseException | None]] = []

    def __call__(self, tx: Tx) -> Any:
        thread = threading.current_thread().name
        try:
            result = self.body(tx)
        except BaseException as exc:
            self.attempts.append((thread, exc))
            raise
        self.attempts.append((thread, None))
        return result

    @property
    def threads(self) -> list[str]:
        return [_thread_kind(name) for name, _ in self.attempts]

    def sqlite_code(self, attempt: int) -> int | None:
        """The primary SQLite result code an attempt failed with (None if it did not)."""
        exc = self.attempts[attempt][1]
        cause = exc if isinstance(exc, sqlite3.Error) else getattr(exc, "__cause__", None)
        code = getattr(cause, "sqlite_errorcode", None)
        return None if code is None else code & 0xFF


def _thread_kind(name: str) -> str:
    for prefix in (READER, WRITER):
        if name.startswith(prefix):
            return prefix
    return name


@contextlib.asynccontextmanager
async def loop_lag() -> AsyncIterator[list[float]]:
    """Yields the gaps between ticks of a 2 ms ticker (how long the loop was held at a time),
    complete once the block exits."""
    gaps: list[float] = []
    last = [time.perf_counter()]

    def lap() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    ticking = asyncio.Event()

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.002)
            lap()
            ticking.set()

    ticker = asyncio.create_task(tick())
    await ticking.wait()
    try:
        yield gaps
    finally:
        lap()  # a read that held the loop until the block ended shows up too
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


def get_ws(tx: Tx) -> str | None:
    ws = tx.get_workspace("ws_1")
    return None if ws is None else ws.name


def count_to(n: int) -> Callable[[Tx], int]:
    """A pure-CPU read: SQLite counts to n (~0.4 us a row), long enough to overrun the budget."""
    sql = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?)"
        " SELECT count(*) FROM c"
    )
    return lambda tx: tx._conn.execute(sql, (n,)).fetchone()[0]  # type: ignore[attr-defined]


async def add_events(store: SqliteStore, n: int) -> None:
    def append(tx: Tx) -> None:
        for i in range(n):
            tx.append_event("ses_1", None, "engine.log", {"i": i}, at(i))

    await store.write(append)


# -- inline ------------------------------------------------------------------------------


async def test_point_read_runs_inline_on_the_loop_thread(seeded: SqliteStore) -> None:
    assert threading.current_thread().name == LOOP_THREAD
    probe = Probe(get_ws)
    assert await seeded.read(probe) == "ws_1"
    assert probe.attempts == [(LOOP_THREAD, None)]


async def test_inline_reads_see_each_commit(seeded: SqliteStore) -> None:
    # The loop's connection must not keep an old snapshot (a leaked read transaction).
    for i in range(3):
        await seeded.write(lambda tx, i=i: tx.append_event("ses_1", None, "x", {}, at(i)))
        probe = Probe(lambda tx: tx.last_event_cursor("ses_1"))
        assert await seeded.read(probe) == i + 1
        assert probe.threads == [LOOP_THREAD]


# -- over budget -----------------------------------------------------------------------


async def test_read_over_budget_is_rerun_in_the_pool(
    seeded: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_events(seeded, 1000)
    monkeypatch.setattr(sqlite_store, "INLINE_BUDGET_S", 0.0)
    probe = Probe(lambda tx: tx.list_events("ses_1", 0, 5000))

    events = await seeded.read(probe)

    assert [e.cursor for e in events] == list(range(1, 1001))
    assert probe.threads == [LOOP_THREAD, READER]
    assert probe.sqlite_code(0) == sqlite3.SQLITE_INTERRUPT
    assert probe.attempts[1][1] is None


async def test_default_budget_cuts_a_long_scan_quickly(seeded: SqliteStore) -> None:
    durations: list[float] = []
    scan = count_to(300_000)

    def timed(tx: Tx) -> int:
        start = time.perf_counter()
        try:
            return scan(tx)
        finally:
            durations.append(time.perf_counter() - start)

    probe = Probe(timed)
    async with loop_lag() as gaps:
        assert await seeded.read(probe) == 300_000

    assert probe.threads == [LOOP_THREAD, READER]
    assert probe.sqlite_code(0) == sqlite3.SQLITE_INTERRUPT
    inline, pooled = durations
    assert inline < 0.02 < pooled  # cut after ~INLINE_BUDGET_S; the whole scan takes longer
    assert max(gaps) < pooled / 2


async def test_loop_connection_is_usable_after_an_interrupted_read(
    seeded: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_events(seeded, 500)
    interrupted = Probe(lambda tx: tx.list_events("ses_1", 0, 1000))
    with monkeypatch.context() as m:
        m.setattr(sqlite_store, "INLINE_BUDGET_S", 0.0)
        assert len(await seeded.read(interrupted)) == 500
    assert interrupted.threads == [LOOP_THREAD, READER]

    await seeded.write(lambda tx: tx.insert_workspace(workspace("ws_2")))
    probe = Probe(lambda tx: (get_ws(tx), tx.get_workspace("ws_2") is not None))
    assert await seeded.read(probe) == ("ws_1", True)
    assert probe.attempts == [(LOOP_THREAD, None)]


# -- busy --------------------------------------------------------------------------------

# A second process plays a WAL recovery in progress: it holds the WAL write and recover locks
# of the -shm file and leaves the wal-index header torn (its two copies differ). A reader then
# gets SQLITE_BUSY_RECOVERY; with busy_timeout 0 at once, with a timeout it waits.
# Offsets: header copies at 0 and 48, lock bytes at 120 + (0 write, 1 ckpt, 2 recover, ...).
_FAKE_RECOVERY = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for lock in (120, 122):
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, lock, os.SEEK_SET)
header = os.pread(fd, 48, 0)
os.pwrite(fd, bytes([header[8] ^ 0xFF]), 8)
print("locked", flush=True)
sys.stdin.readline()
os.pwrite(fd, header, 0)
os.close(fd)
"""


@contextlib.contextmanager
def fake_recovery(db: Path) -> Iterator[Callable[[], None]]:
    """Runs the fake recovery until the yielded release() is called (or the block exits)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _FAKE_RECOVERY, f"{db}-shm"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def release() -> None:
        if not stdin.closed:
            stdin.write("go\n")
            stdin.close()

    try:
        assert proc.stdout.readline() == "locked\n"
        yield release
    finally:
        release()
        assert proc.wait(10) == 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX locks on the -shm file")
async def test_busy_read_completes_in_the_pool_without_holding_the_loop(
    seeded: SqliteStore,
) -> None:
    hold = 0.3
    probe = Probe(get_ws)
    with fake_recovery(seeded.path) as release:
        asyncio.get_running_loop().call_later(hold, release)
        async with loop_lag() as gaps:
            start = time.perf_counter()
            assert await seeded.read(probe) == "ws_1"
            elapsed = time.perf_counter() - start

    assert probe.threads == [LOOP_THREAD, READER]
    assert probe.sqlite_code(0) == sqlite3.SQLITE_BUSY  # SQLITE_BUSY_RECOVERY
    assert elapsed >= hold * 0.9  # the pool waited for the lock (busy_timeout)...
    assert max(gaps) < 0.1  # ...while the loop kept ticking

    after = Probe(get_ws)
    assert await seeded.read(after) == "ws_1"
    assert after.threads == [LOOP_THREAD]


# -- errors of the fn ------------------------------------------------------------------


class NotFound(Exception):
    pass


def _raise(exc: Exception) -> Callable[[Tx], None]:
    def fn(tx: Tx) -> None:
        tx.get_workspace("ws_1")
        raise exc

    return fn


@pytest.mark.parametrize(
    "make_fn",
    [
        lambda: _raise(NotFound("ws_9")),
        lambda: _raise(CorralError("workspace_not_found", "no ws_9")),
        lambda: _raise(StoreError("not a driver error")),
        lambda: lambda tx: tx.insert_workspace(workspace("ws_sneaky")),  # query_only
        lambda: lambda tx: tx.get_workspace(object()),  # unsupported parameter type
    ],
    ids=["custom", "corral", "store", "readonly", "bad-param"],
)
async def test_errors_of_the_fn_propagate_unchanged_without_a_rerun(
    seeded: SqliteStore, make_fn: Callable[[], Callable[[Tx], Any]]
) -> None:
    probe = Probe(make_fn())
    with pytest.raises(Exception) as raised:
        await seeded.read(probe)
    assert probe.threads == [LOOP_THREAD]
    assert raised.value is probe.attempts[0][1]


# -- threads -----------------------------------------------------------------------------


async def test_read_from_another_threads_loop_uses_the_pool(seeded: SqliteStore) -> None:
    probe = Probe(get_ws)
    worker: list[str] = []

    def in_worker() -> str | None:
        worker.append(threading.current_thread().name)
        return asyncio.run(seeded.read(probe))

    assert await asyncio.to_thread(in_worker) == "ws_1"
    assert probe.threads == [READER]
    assert worker and worker[0] not in (LOOP_THREAD, *probe.threads)


async def test_read_submitted_to_the_loop_from_a_worker_runs_inline(seeded: SqliteStore) -> None:
    loop = asyncio.get_running_loop()
    probe = Probe(get_ws)

    def in_worker() -> str | None:
        return asyncio.run_coroutine_threadsafe(seeded.read(probe), loop).result(10)

    assert await asyncio.to_thread(in_worker) == "ws_1"
    assert probe.threads == [LOOP_THREAD]


async def test_writes_run_on_the_writer_thread(seeded: SqliteStore) -> None:
    threads: list[str] = []

    def write(i: int) -> Callable[[Tx], None]:
        def fn(tx: Tx) -> None:
            threads.append(threading.current_thread().name)
            tx.insert_workspace(workspace(f"ws_w{i}"))

        return fn

    await asyncio.gather(*(seeded.write(write(i)) for i in range(5)))
    assert len(threads) == 5 and len(set(threads)) == 1
    assert _thread_kind(threads[0]) == WRITER
    names = await seeded.read(lambda tx: [tx.get_workspace(f"ws_w{i}") for i in range(5)])
    assert all(names)
