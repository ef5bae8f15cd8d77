"""What a process has to tell other processes through Redis, made on any thread (the store's
committing thread, the executor) and sent by one task: coalesced, so however many commits come
between two sends, a session's channel gets its highest cursor once, and a session or a stop is
sent once. A send that fails puts its batch back, merged with what came meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass
class Batch:
    cursors: dict[str, int] = field(default_factory=dict)  # session: last cursor
    runnable: dict[str, None] = field(default_factory=dict)  # sessions, in order
    stops: dict[tuple[str, str], None] = field(default_factory=dict)  # (worker id, session)

    def __bool__(self) -> bool:
        return bool(self.cursors or self.runnable or self.stops)


class PendingAnnouncements:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batch = Batch()
        self._asked = False
        # Wakes the sender, from any thread; None until the sender runs (it looks at start).
        self.wake: Callable[[], None] | None = None

    def cursors(self, cursors: Mapping[str, int]) -> None:
        with self._lock:
            _raise_cursors(self._batch.cursors, cursors)
            self._ask()

    def runnable(self, session_id: str) -> None:
        with self._lock:
            self._batch.runnable[session_id] = None
            self._ask()

    def stop(self, worker_id: str, session_id: str) -> None:
        with self._lock:
            self._batch.stops[(worker_id, session_id)] = None
            self._ask()

    def take(self) -> Batch:
        with self._lock:
            taken, self._batch = self._batch, Batch()
            self._asked = False
        return taken

    def put_back(self, batch: Batch) -> None:
        with self._lock:
            _raise_cursors(self._batch.cursors, batch.cursors)
            self._batch.runnable = {**batch.runnable, **self._batch.runnable}
            self._batch.stops = {**batch.stops, **self._batch.stops}

    def _ask(self) -> None:
        """Under the lock: wake the sender once per batch, not once per commit."""
        if self._asked or self.wake is None:
            return
        self._asked = True
        self.wake()


def _raise_cursors(into: dict[str, int], cursors: Mapping[str, int]) -> None:
    for session_id, cursor in cursors.items():
        if cursor > into.get(session_id, 0):
            into[session_id] = cursor
