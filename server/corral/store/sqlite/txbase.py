"""Shared plumbing for the SQLite repository mixins: statement execution and error mapping."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, TypeVar

from ..base import ConflictError, StoreError

T = TypeVar("T")


class TxBase:
    """Holds the connection of the current transaction; the mixins add the repositories."""

    __slots__ = ("_conn",)

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

    def _event_appended(self, session_id: str, cursor: int) -> None:
        """Write transactions note the events they append, to announce them once committed."""


def json_list(values: Collection[str]) -> str:
    """One bound parameter for an id list, expanded in SQL with ``json_each(?)``.

    Avoids building a statement per list length and SQLite's bound-variable limit.
    """
    return json.dumps(list(values))
