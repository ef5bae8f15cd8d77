"""Statement execution and error mapping on a psycopg connection, for the shared repositories.

The shared SQL is written with ``?`` parameters; psycopg takes ``%s``, so each statement is
translated once (cached) before psycopg prepares it (psycopg prepares a statement on the server
after a few executions on the same connection). The shared SQL holds no ``%``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import DictRow

from ..base import ConflictError, StoreError
from ..sql.txbase import SqlTxBase
from .codec import CODEC

Connection = psycopg.Connection[DictRow]


@lru_cache(maxsize=1024)
def to_psycopg(sql: str) -> str:
    return sql.replace("?", "%s")


def store_error(exc: psycopg.Error) -> StoreError:
    """The driver's error as the store's (a violated constraint is a ConflictError)."""
    if isinstance(exc, psycopg.IntegrityError):
        return ConflictError(str(exc))
    return StoreError(str(exc))


class TxBase(SqlTxBase):
    """Holds the connection of the current transaction; the mixins add the repositories."""

    __slots__ = ("_conn", "_cur")

    codec = CODEC
    ID_TABLE = "unnest(?::text[]) AS j(value)"

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        # One cursor for the whole transaction (a statement's rows are read before the next
        # one): psycopg builds a cursor and its adapters anew for every connection.execute.
        self._cur = conn.cursor()

    def _cursor(self, sql: str, params: Sequence[Any]) -> psycopg.Cursor[DictRow]:
        try:
            return self._cur.execute(to_psycopg(sql), params)
        except psycopg.Error as exc:
            raise store_error(exc) from exc

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> object:
        return self._cursor(sql, params)

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self._cur.executemany(to_psycopg(sql), rows)
        except psycopg.Error as exc:
            raise store_error(exc) from exc

    def _one(self, sql: str, params: Sequence[Any] = ()) -> DictRow | None:
        return self._cursor(sql, params).fetchone()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[DictRow]:
        return self._cursor(sql, params).fetchall()

    def _scalar_int(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = self._one(sql, params)
        value = None if row is None else next(iter(row.values()))
        return 0 if value is None else int(value)

    def _changed(self, sql: str, params: Sequence[Any] = ()) -> bool:
        return self._cursor(sql, params).rowcount > 0

    @staticmethod
    def in_list(column: str) -> str:
        return f"{column} = ANY(?)"

    @staticmethod
    def id_list(values: Collection[str]) -> list[str]:
        return list(values)
