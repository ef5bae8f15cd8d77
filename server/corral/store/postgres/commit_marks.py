"""The foreign-commit mark of a PostgreSQL store: whether other processes committed since the
last look, from the commit counter every write transaction increments (``store_commits.seq``).

Writes are serialized, so committed counter values appear one by one, in order. This store
remembers the values its own commits took; a look reads the counter, and the mark moves when a
value between the last look and now is not one of ours. The writer records its value while
holding `lock` across COMMIT and a look reads the counter holding it too, so no look falls
between a commit of ours and its record: the mark never moves for our own writes and never
misses another's. One primary-key read per look; no polling of ``pg_stat`` views.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Own values kept at most, should nobody look for a long time; past it, the next look reports
# a change (one needless look by the listeners) and the record starts anew.
MAX_OWN = 100_000


class CommitMarks:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._own: set[int] = set()
        self._seen: int | None = None
        self._mark = 0
        self._overflowed = False

    @contextmanager
    def committing(self, seq: int) -> Iterator[None]:
        """Around this store's COMMIT of the write that took counter value `seq`."""
        with self.lock:
            yield
            if len(self._own) >= MAX_OWN:
                self._own.clear()
                self._overflowed = True
            self._own.add(seq)

    def observe(self, seq: int) -> int:
        """The mark, given the counter just read while holding `lock`."""
        seen, self._seen = self._seen, seq
        if seen is not None and seq != seen:
            mine = sum(1 for v in self._own if seen < v <= seq)
            if self._overflowed or mine < seq - seen:
                self._mark += 1
        self._overflowed = False
        self._own.clear()  # all ours are committed, so none is above the counter just read
        return self._mark
