"""How scalars travel to and from PostgreSQL columns (the records themselves: ``sql/codec.py``).

Timestamps are ``timestamptz`` (microseconds, like the records), read back in UTC: every
connection sets its time zone to UTC. JSON goes to ``json`` columns as the same compact text
SQLite stores, and psycopg parses it back. Text parameters cannot hold NUL on PostgreSQL, so
`NulFreeStrDumper` stores U+FFFD instead (inside JSON, NUL travels escaped and is kept).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Json
from psycopg.types.string import StrDumperUnknown

from ..sql.codec import RecordCodec, aware, dump_json


class PostgresCodec(RecordCodec):
    __slots__ = ()

    def ts(self, value: datetime) -> datetime:
        return aware(value)

    def parse_ts(self, value: Any) -> datetime:
        assert isinstance(value, datetime)
        return value

    def json(self, value: Any) -> Json:
        return Json(value, dumps=dump_json)

    def load_json(self, value: Any) -> Any:
        return value


CODEC = PostgresCodec()


class NulFreeStrDumper(StrDumperUnknown):
    """psycopg's default ``str`` dumper, with NUL (which no PostgreSQL text holds) stored as
    U+FFFD rather than failing the write, as surrogates are (corral.surrogates)."""

    def dump(self, obj: str) -> Any:
        return super().dump(obj.replace("\x00", "\ufffd") if "\x00" in obj else obj)
