"""How scalars travel to and from SQLite columns (the records themselves: ``sql/codec.py``).

Timestamps are fixed-width ISO-8601 UTC text with microseconds and ``Z`` so that text order is
time order (indexes and keyset comparisons rely on it). JSON is compact text; flags are 0/1.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..sql.codec import RecordCodec, aware, dump_json

_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class SqliteCodec(RecordCodec):
    __slots__ = ()

    def ts(self, value: datetime) -> str:
        return aware(value).astimezone(UTC).strftime(_TS_FORMAT)

    def parse_ts(self, value: Any) -> datetime:
        return datetime.fromisoformat(value)  # 3.11 reads the trailing Z as UTC

    def json(self, value: Any) -> str:
        return dump_json(value)

    def load_json(self, value: Any) -> Any:
        return json.loads(value)

    def flag(self, value: bool) -> int:
        return int(value)


CODEC = SqliteCodec()
