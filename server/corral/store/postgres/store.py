"""PostgresStore: threads, pooled connections and transactions around :class:`PostgresTx`.

The driver is psycopg 3, synchronous, with psycopg_pool. The core hands the store synchronous
``fn(tx)`` units of work to run on the store's threads (``store/base.py``), and a synchronous
driver runs them there as they are. asyncpg only speaks asyncio: a ``fn`` could not call it
without becoming async itself, or without an event loop per store thread.

Writes are serialized, as on SQLite (``BEGIN IMMEDIATE``), across every process sharing the
database: a write transaction starts by incrementing the one row of ``store_commits``
(`_BEGIN_AND_LOCK_WRITES`), so it holds that row's lock until it commits or rolls back, and the next
writer of any process waits there. It runs at READ COMMITTED (whatever the database's default),
so each of its later statements sees everything committed before it took the lock; a snapshot
taken when the transaction began (REPEATABLE READ) could predate the previous writer's commit.
So a write fn sees a state no concurrent write changes, exactly as on SQLite: claims
(``core/runs/lifecycle.claim``) go to exactly one process, a session's queue stays serial, event
cursors and step numbers (max + 1) stay contiguous. The alternatives were set aside:
SERIALIZABLE with a retry of the fn needs every write fn to be safe to rerun, and those of the
core capture and mutate state of their callers, and each session's event cursor is a hot
max + 1 that would conflict on every concurrent append; a lock per session cannot be taken up
front, since what a fn touches is known only as it runs (recovery and dispatch span sessions).
The price: one commit at a time for the whole database, each holding the lock for its
statements' round trips, the client's CPU and its WAL flush (measured by ``make bench-store``).
Within a process, writes queue for one writer thread (one connection) instead of waiting on the
row lock with a connection each, and those waiting together commit together
(``write_queue.py``): one lock and one flush per batch, a savepoint per write. Listeners hear a
batch once, with the last cursor of each session its writes appended to. The same row's counter
is the foreign-commit mark (``commit_marks.py``).

A write fn that catches a failed statement's StoreError and returns is failed all the same
(PostgreSQL aborted its transaction; committing would silently roll it back).

Reads run on reader threads, each fn in one snapshot: a fn of one statement runs it alone, on
the statement's own snapshot (``sql/single_statement.py``: one round trip instead of three),
others in a REPEATABLE READ READ ONLY transaction. Reader sessions are read-only, so a write
inside read(fn) fails loudly. Reads never wait on writers. They are never run inline on the event
loop, unlike SQLite's point reads: every statement is a network round trip.

Connections come from two pools, one for the writer and one for the readers
(``connections.py``); a write's BEGIN travels with its write lock, in one round trip. When a
unit of work finds its pooled connection closed before it did anything (the server restarted
while it idled), the pool's idle connections are checked and replaced, and the unit of work
starts again on a fresh one. A unit of work waits at most POOL_TIMEOUT_S for a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import psycopg
from psycopg import pq
from psycopg.rows import DictRow
from psycopg_pool import PoolTimeout

from ..base import EventListener, StoreError, Tx
from ..sql.single_statement import OneStatement, SecondStatement, SnapshotReads
from ..sql.units import OpenedInContext, announce, checked, required, submit
from ..urls import redacted
from .commit_marks import CommitMarks
from .connections import POOL_TIMEOUT_S, Pool, connection_pool, conninfo
from .migrate import migrate
from .tx import PostgresTx
from .txbase import Connection, store_error
from .write_queue import PendingWrite, WriteQueue

T = TypeVar("T")

_BEGIN_AND_LOCK_WRITES = (
    "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE;"
    " UPDATE store_commits SET seq = seq + 1 WHERE id = 1 RETURNING seq"
)
_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
_COMMITS = "SELECT seq FROM store_commits WHERE id = 1"
PING_TIMEOUT_S = 2.0  # a health probe waits less than a unit of work for a connection


class PostgresStore(OpenedInContext):
    """The PostgreSQL backend of :class:`corral.store.base.Store`.

    Durability is the server's: with PostgreSQL's default ``synchronous_commit = on`` a commit
    has reached the disk when a write returns.
    """

    kind = "postgres"

    def __init__(self, url: str, *, readers: int = 4) -> None:
        self._url = url
        self._conninfo = conninfo(url)
        self._readers_count = max(1, readers)
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._write_pool: Pool | None = None
        self._read_pool: Pool | None = None
        self._marks = CommitMarks()
        self._writes = WriteQueue()
        self._snapshots = SnapshotReads()
        self._event_listeners: list[EventListener] = []

    # -- lifecycle --------------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None:
            raise RuntimeError("PostgresStore is already open")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="corral-pg-writer")
        self._readers = ThreadPoolExecutor(
            self._readers_count, thread_name_prefix="corral-pg-reader"
        )
        self._write_pool = connection_pool(self._conninfo, 1, read_only=False)
        self._read_pool = connection_pool(self._conninfo, self._readers_count, read_only=True)
        try:
            await submit(self._writer, self._prepare, self._write_pool, self._read_pool)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        writer, readers = self._writer, self._readers
        pools = [p for p in (self._write_pool, self._read_pool) if p is not None]
        if writer is None or readers is None:
            return
        self._writer = self._readers = None
        self._write_pool = self._read_pool = None
        # Shutting down waits for in-flight units of work: do that off the event loop.
        await asyncio.get_running_loop().run_in_executor(
            None, self._shutdown, writer, readers, pools
        )

    async def ping(self) -> bool:
        try:
            readers, pool = required(self._readers), required(self._read_pool)
            return await submit(readers, self._run, pool, _ping, PING_TIMEOUT_S)
        except Exception:
            return False

    # -- units of work ----------------------------------------------------------------

    async def read(self, fn: Callable[[Tx], T]) -> T:
        readers, pool = required(self._readers), required(self._read_pool)
        return await submit(readers, self._run, pool, partial(self._read, fn))

    async def write(self, fn: Callable[[Tx], T]) -> T:
        writer, pool = required(self._writer), required(self._write_pool)
        done = self._writes.put(fn)
        writer.submit(self._write_batch, pool)  # takes this write, or finds it taken already
        result: T = await asyncio.wrap_future(done)
        return result

    async def foreign_commit_mark(self) -> int:
        readers, pool = required(self._readers), required(self._read_pool)
        return await submit(readers, self._foreign_mark, pool)

    def add_event_listener(self, listener: EventListener) -> None:
        self._event_listeners.append(listener)

    def _run(
        self, pool: Pool, body: Callable[[Connection, bool], T], timeout: float = POOL_TIMEOUT_S
    ) -> T:
        """body(conn, retry_if_stale) on a pooled connection, with the transaction it leaves
        open rolled back. body raises _StaleConnection when it found the connection closed
        before it did anything: the pool's idle connections are then checked and replaced (the
        server restarted while they idled?) and body runs again, once, on a fresh one."""
        try:
            return self._attempt(pool, body, timeout, retry_if_stale=True)
        except _StaleConnection:
            pool.check()
            return self._attempt(pool, body, timeout, retry_if_stale=False)

    def _attempt(
        self,
        pool: Pool,
        body: Callable[[Connection, bool], T],
        timeout: float,
        *,
        retry_if_stale: bool,
    ) -> T:
        try:
            with pool.connection(timeout) as conn:
                try:
                    return body(conn, retry_if_stale)
                finally:
                    _rollback(conn)  # a no-op after COMMIT; undoes everything otherwise
        except PoolTimeout as exc:
            raise StoreError(f"no connection to {redacted(self._url)}: {exc}") from exc

    def _read(self, fn: Callable[[Tx], T], conn: Connection, retry_if_stale: bool) -> T:
        def begun() -> Tx:
            _exec(conn, _BEGIN_READ)
            return PostgresTx(conn)

        try:
            return self._snapshots.run(fn, lambda: _SingleStatementTx(conn), begun)
        except StoreError as exc:
            if conn.broken and retry_if_stale:  # reads leave nothing behind: run it anew
                raise _StaleConnection from exc
            raise

    def _write_batch(self, pool: Pool) -> None:
        batch = self._writes.take()
        if not batch:
            return
        try:
            outcomes, appended = self._run(pool, partial(self._commit_batch, batch))
        except BaseException as exc:  # nothing of the batch committed
            for pending in batch:
                pending.future.set_exception(exc)
            return
        for pending, (result, error) in zip(batch, outcomes, strict=True):
            if error is None:
                pending.future.set_result(result)
            else:
                pending.future.set_exception(error)
        if appended:
            announce(self._event_listeners, appended)

    def _commit_batch(
        self, batch: list[PendingWrite], conn: Connection, retry_if_stale: bool
    ) -> tuple[list[tuple[Any, BaseException | None]], dict[str, int]]:
        """Each write's result or error, and the last event cursor of each session appended
        to, once the batch committed. A lone write's error fails the transaction."""
        try:  # BEGIN and the write lock in one round trip
            cursor = conn.execute(_BEGIN_AND_LOCK_WRITES)
            cursor.nextset()
            row = cursor.fetchone()
        except psycopg.Error as exc:
            if conn.broken and retry_if_stale:
                raise _StaleConnection from exc
            raise store_error(exc) from exc
        assert row is not None, "store_commits lost its row"
        alone = len(batch) == 1
        outcomes: list[tuple[Any, BaseException | None]] = []
        appended: dict[str, int] = {}
        for pending in batch:
            if not alone:
                _exec(conn, "SAVEPOINT unit")
            tx = _WriteTx(conn)
            try:
                result = checked(pending.fn(tx))
                if conn.info.transaction_status == pq.TransactionStatus.INERROR:
                    raise StoreError("a statement of this write failed, and the write went on")
            except BaseException as exc:
                if alone:
                    raise
                _exec(conn, "ROLLBACK TO SAVEPOINT unit")
                outcomes.append((None, exc))
                continue
            outcomes.append((result, None))
            appended.update(tx.appended)
        with self._marks.committing(row["seq"]):
            _exec(conn, "COMMIT")
        return outcomes, appended

    def _foreign_mark(self, pool: Pool) -> int:
        with pool.connection() as conn, self._marks.lock:
            try:
                row = conn.execute(_COMMITS).fetchone()
            except psycopg.Error as exc:
                raise store_error(exc) from exc
            assert row is not None, "store_commits lost its row"
            return self._marks.observe(row["seq"])

    # -- connections ------------------------------------------------------------------

    def _prepare(self, *pools: Pool) -> None:
        where = redacted(self._url)
        try:
            with psycopg.connect(self._conninfo, autocommit=True) as conn:
                migrate(conn)
        except psycopg.Error as exc:
            raise StoreError(f"migrating {where}: {exc}") from exc
        for pool in pools:
            try:
                pool.open(wait=True)
            except PoolTimeout as exc:
                raise StoreError(f"connecting to {where}: {exc}") from exc

    def _shutdown(self, writer: Executor, readers: Executor, pools: list[Pool]) -> None:
        writer.shutdown(wait=True)
        readers.shutdown(wait=True)
        for pool in pools:
            pool.close()


class _StaleConnection(Exception):
    """BEGIN found its pooled connection closed: nothing of the unit of work ran yet."""


class _WriteTx(PostgresTx):
    """A write transaction that remembers the last event cursor it appended per session, for
    the store to announce once (and only if) it commits."""

    __slots__ = ("appended",)

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.appended: dict[str, int] = {}

    def _event_appended(self, session_id: str, cursor: int) -> None:
        self.appended[session_id] = cursor


def _ping(conn: Connection, retry_if_stale: bool) -> bool:
    try:  # a table of Corral's schema: a database without it is not up for Corral
        conn.execute(_COMMITS).fetchone()
    except psycopg.Error as exc:
        if conn.broken and retry_if_stale:
            raise _StaleConnection from exc
        raise
    return True


class _SingleStatementTx(PostgresTx):
    """Lets a read fn run its first statement on its own snapshot, outside a transaction."""

    __slots__ = ("_statements",)

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self._statements = OneStatement()

    def _cursor(self, sql: str, params: Sequence[Any]) -> psycopg.Cursor[DictRow]:
        self._statements.next()
        return super()._cursor(sql, params)

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise SecondStatement  # a write, refused by a read-only session anyway


def _exec(conn: Connection, sql: str) -> None:
    try:
        conn.execute(sql)
    except psycopg.Error as exc:
        raise StoreError(f"{sql}: {exc}") from exc


def _rollback(conn: Connection) -> None:
    # Never let a failing ROLLBACK replace the exception that caused it.
    if not conn.broken and conn.info.transaction_status != pq.TransactionStatus.IDLE:
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")
