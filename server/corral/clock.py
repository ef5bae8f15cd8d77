"""Wall-clock time for records: aware UTC, strictly increasing within this process.

Messages of a session are ordered by (createdAt, id); two records stamped in the same
microsecond would otherwise tie, so each reading is at least 1 µs after the previous one.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_last = datetime.min.replace(tzinfo=UTC)
_TICK = timedelta(microseconds=1)


def now() -> datetime:
    global _last
    with _lock:
        current = datetime.now(UTC)
        if current <= _last:
            current = _last + _TICK
        _last = current
        return current
