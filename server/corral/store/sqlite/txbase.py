"""Statement execution and error mapping on a SQLite connection, for the shared repositories."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, TypeVar

from ..base import ConflictError, StoreError
from ..sql.txbase import SqlTxBase
from .codec import CODEC

T = TypeVar("T")


class TxBase(SqlTxBase):
    """Holds the connection of the current transaction; the mixins add the repositories."""

    __slots__ = ("_conn",)

    codec = CODEC
    ID_TABLE = "json_each(?) AS j"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        # Driver errors become StoreError so the core never has to import sqlite3.
        try:
            return self._conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise ConflictError(str(exc)) from exc
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise ConflictError(str(exc)) from exc
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._fetch(sql, params, sqlite3.Cursor.fetchone)
        return row

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        rows: list[sqlite3.Row] = self._fetch(sql, params, sqlite3.Cursor.fetchall)
        return rows

    def _scalar_int(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = self._fetch(sql, params, sqlite3.Cursor.fetchone)
        return int(row[0]) if row is not None and row[0] is not None else 0

    def _fetch(self, sql: str, params: Sequence[Any], fetch: Callable[[sqlite3.Cursor], T]) -> T:
        cursor = self._execute(sql, params)
        try:
            return fetch(cursor)
        except sqlite3.Error as exc:  # stepping through rows fails too (interrupted, busy)
            raise StoreError(str(exc)) from exc

    def _changed(self, sql: str, params: Sequence[Any] = ()) -> bool:
        return self._execute(sql, params).rowcount > 0

    @staticmethod
    def in_list(column: str) -> str:
        return f"{column} IN (SELECT value FROM json_each(?))"

    @staticmethod
    def id_list(values: Collection[str]) -> str:
        return json.dumps(list(values))

    @staticmethod
    def index_hint(index: str) -> str:
        return f"INDEXED BY {index}"
