"""SqliteStore: thread and connection machinery around :class:`SqliteTx`.

One writer thread owns the only writing connection, so writes are serialized without lock
contention (``BEGIN IMMEDIATE`` ... ``COMMIT``). A write costs one thread hop and one commit.

Reads first run inline on the event loop, on a read-only connection of their own: the thread hop
costs ~120 us while reading one row by primary key costs ~20 us (GET /sessions/{id}, measured
with bench/bench_api.py). The loop never waits on the disk for long:
- that connection has ``busy_timeout`` 0, so a lock (WAL recovery, a checkpoint restart)
  answers SQLITE_BUSY at once instead of sleeping on the loop;
- a progress handler interrupts SQLite once the read has run for INLINE_BUDGET_S, so a scan of
  many pages or a cold page cache holds the loop for that budget plus the page read in flight
  (measured: a 300k-row scan is cut after ~1.2 ms; a 100-session page takes ~0.5 ms inline,
  mostly turning rows into records, CPU the pool would spend holding the GIL anyway);
- in both cases the read is rerun from scratch on the reader pool. Read fns are side-effect
  free and let store errors propagate, so a cut-short attempt leaves nothing behind.
Reads from a thread other than the one that opened the store always use the pool.

A read's snapshot: a read fn of a single statement runs without BEGIN/ROLLBACK, on the statement's
own snapshot; others inside BEGIN ... ROLLBACK (``sql/single_statement.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..base import EventListener, StoreError, Tx
from ..sql.single_statement import OneStatement, SecondStatement, SnapshotReads
from ..sql.units import OpenedInContext, announce, checked, required, submit
from .migrate import migrate
from .tx import SqliteTx

T = TypeVar("T")

INLINE_BUDGET_S = 0.001  # longest an inline read may hold the event loop before the pool takes it
_PROGRESS_EVERY = 1000  # SQLite VM steps between budget checks (~20-50 us of work)
_RERUN_IN_POOL = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_INTERRUPT})


class SqliteStore(OpenedInContext):
    """The SQLite backend of :class:`corral.store.base.Store`.

    Durability: WAL with ``synchronous=NORMAL`` survives a killed process with nothing lost;
    only an OS crash or power loss can drop the last commits.
    """

    kind = "sqlite"

    def __init__(self, path: Path, *, readers: int = 4, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        self._readers_count = max(1, readers)
        self._busy_timeout_ms = busy_timeout_ms
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()  # this thread's connection
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._loop_conn: sqlite3.Connection | None = None  # the inline reads' connection
        self._loop_thread: int | None = None
        self._deadline = math.inf  # of the inline read in progress
        self._snapshots = SnapshotReads()
        self._event_listeners: list[EventListener] = []

    # -- lifecycle --------------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None:
            raise RuntimeError("SqliteStore is already open")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="corral-sqlite-writer")
        self._readers = ThreadPoolExecutor(
            self._readers_count, thread_name_prefix="corral-sqlite-reader"
        )
        try:
            await submit(self._writer, self._prepare)
            # Opened (file open, schema load) on a reader thread, then used only by the loop.
            self._loop_conn = await submit(self._readers, self._open_loop_connection)
            self._loop_thread = threading.get_ident()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        writer, readers = self._writer, self._readers
        if writer is None or readers is None:
            return
        self._writer = self._readers = None
        self._loop_conn = self._loop_thread = None
        # Shutting down waits for in-flight units of work: do that off the event loop.
        await asyncio.get_running_loop().run_in_executor(None, self._shutdown, writer, readers)

    async def ping(self) -> bool:
        try:
            # A real query, so a missing or corrupt file shows up here.
            return await self.read(lambda tx: tx.last_event_cursor("") >= 0)
        except Exception:
            return False

    # -- units of work ----------------------------------------------------------------

    async def read(self, fn: Callable[[Tx], T]) -> T:
        readers = required(self._readers)
        if self._loop_conn is not None and threading.get_ident() == self._loop_thread:
            try:
                return self._read_inline(self._loop_conn, fn)
            except (StoreError, sqlite3.Error) as exc:
                # Repositories wrap driver errors from execute(), not from fetching rows.
                cause = exc if isinstance(exc, sqlite3.Error) else exc.__cause__
                code = getattr(cause, "sqlite_errorcode", None)
                if code is None or code & 0xFF not in _RERUN_IN_POOL:
                    raise
        return await submit(readers, self._read_job, fn)

    async def write(self, fn: Callable[[Tx], T]) -> T:
        return await submit(required(self._writer), self._write_job, fn)

    async def foreign_commit_mark(self) -> int:
        return await submit(required(self._writer), self._data_version)

    def add_event_listener(self, listener: EventListener) -> None:
        self._event_listeners.append(listener)

    def _data_version(self) -> int:
        # data_version moves for commits of every connection but the one asking; the writer's
        # connection is the only one here that commits, so on it, only other processes count.
        return int(self._connection(readonly=False).execute("PRAGMA data_version").fetchone()[0])

    def _read_job(self, fn: Callable[[Tx], T]) -> T:
        conn = self._connection(readonly=True)
        try:
            return self._snapshot_read(conn, fn)
        finally:
            _rollback(conn)

    def _read_inline(self, conn: sqlite3.Connection, fn: Callable[[Tx], T]) -> T:
        self._deadline = time.perf_counter() + INLINE_BUDGET_S
        try:
            return self._snapshot_read(conn, fn)
        finally:
            self._deadline = math.inf  # never interrupt the ROLLBACK
            _rollback(conn)

    def _snapshot_read(self, conn: sqlite3.Connection, fn: Callable[[Tx], T]) -> T:
        """Runs fn in one consistent snapshot; the caller rolls back the transaction, if any."""

        def begun() -> Tx:
            _exec(conn, "BEGIN")  # deferred: one snapshot from the fn's first statement on
            return SqliteTx(conn)

        return self._snapshots.run(fn, lambda: _SingleStatementTx(conn), begun)

    def _over_budget(self) -> bool:
        return time.perf_counter() > self._deadline

    def _write_job(self, fn: Callable[[Tx], T]) -> T:
        conn = self._connection(readonly=False)
        _exec(conn, "BEGIN IMMEDIATE")
        tx = _WriteTx(conn)
        try:
            result = checked(fn(tx))
            _exec(conn, "COMMIT")
        finally:
            _rollback(conn)  # a no-op after COMMIT; undoes everything if fn or COMMIT failed
        if tx.appended:
            announce(self._event_listeners, tx.appended)
        return result

    # -- threads and connections ------------------------------------------------------

    def _prepare(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connection(readonly=False)
        try:
            migrate(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"migrating {self.path}: {exc}") from exc

    def _connection(self, *, readonly: bool) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open(readonly=readonly, busy_timeout_ms=None)
        return conn

    def _open_loop_connection(self) -> sqlite3.Connection:
        conn = self._open(readonly=True, busy_timeout_ms=0)
        conn.set_progress_handler(self._over_budget, _PROGRESS_EVERY)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # load the schema now
        return conn

    def _open(self, *, readonly: bool, busy_timeout_ms: int | None) -> sqlite3.Connection:
        if busy_timeout_ms is None:
            busy_timeout_ms = self._busy_timeout_ms
        try:
            # isolation_level=None: the module issues no implicit BEGIN/COMMIT; we do.
            # check_same_thread=False so close() can close it after its thread is gone, and the
            # loop can use the connection a reader thread opened for it.
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=busy_timeout_ms / 1000,  # sets SQLite's busy_timeout
            )
            conn.row_factory = sqlite3.Row
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")  # persistent, stored in the file
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            if readonly:
                conn.execute("PRAGMA query_only = ON")  # a write inside read(fn) fails loudly
        except sqlite3.Error as exc:
            raise StoreError(f"opening {self.path}: {exc}") from exc
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _shutdown(self, writer: Executor, readers: Executor) -> None:
        writer.shutdown(wait=True)
        readers.shutdown(wait=True)
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                if not conn.execute("PRAGMA query_only").fetchone()[0]:
                    conn.execute("PRAGMA optimize")  # refresh planner stats, cheap
            except sqlite3.Error:
                pass
            conn.close()
        self._local = threading.local()


class _WriteTx(SqliteTx):
    """A write transaction that remembers the last event cursor it appended per session, for
    the store to announce once (and only if) it commits."""

    __slots__ = ("appended",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self.appended: dict[str, int] = {}

    def _event_appended(self, session_id: str, cursor: int) -> None:
        self.appended[session_id] = cursor


class _SingleStatementTx(SqliteTx):
    """Lets a read fn run its first statement on that statement's implicit snapshot."""

    __slots__ = ("_statements",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self._statements = OneStatement()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        self._statements.next()
        return super()._execute(sql, params)

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise SecondStatement  # never in a read (query_only), but not on a bare snapshot


def _exec(conn: sqlite3.Connection, sql: str) -> None:
    try:
        conn.execute(sql)
    except sqlite3.Error as exc:
        raise StoreError(f"{sql}: {exc}") from exc


def _rollback(conn: sqlite3.Connection) -> None:
    # Never let a failing ROLLBACK replace the exception that caused it.
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
