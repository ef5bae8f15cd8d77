"""What the shared repositories ask of a backend's transaction: running a statement, fetching
rows by column name, and the few SQL fragments its dialect spells differently."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any, ClassVar

from .codec import RecordCodec, Row


class SqlTxBase:
    """Statements take ``?`` parameters. Driver errors come out as ``StoreError`` (a violated
    constraint as ``ConflictError``), so the core never imports a driver."""

    __slots__ = ()

    codec: ClassVar[RecordCodec]
    # A table of the ids bound to one parameter (see `id_list`), as `j` with a column `value`.
    ID_TABLE: ClassVar[str]

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> object:
        raise NotImplementedError

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        raise NotImplementedError

    def _all(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Row]:
        raise NotImplementedError

    def _scalar_int(self, sql: str, params: Sequence[Any] = ()) -> int:
        """The first column of the first row as an int; 0 for no row or NULL."""
        raise NotImplementedError

    def _changed(self, sql: str, params: Sequence[Any] = ()) -> bool:
        """Run a statement; whether it touched a row."""
        raise NotImplementedError

    @staticmethod
    def in_list(column: str) -> str:
        """``column`` is one of the values bound (by `id_list`) to the one ``?`` it holds."""
        raise NotImplementedError

    @staticmethod
    def id_list(values: Collection[str]) -> Any:
        """Many values as one bound parameter: no statement per list length, no limit on the
        number of bound variables."""
        raise NotImplementedError

    @staticmethod
    def index_hint(index: str) -> str:
        """Where a dialect lets a query name its index (after the table), the clause doing so."""
        return ""

    def _event_appended(self, session_id: str, cursor: int) -> None:
        """Write transactions note the events they append, to announce them once committed."""
