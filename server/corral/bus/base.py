"""The event bus: how "session S's events now reach cursor N" travels from the store that
committed them to the streams that deliver them.

Only cursors travel, never payloads: a stream reads the events from the store by cursor, so
every link (in-process, and Redis between processes: `redis_link`) carries a few bytes per
commit and the store stays the single source of truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from .subscription import Subscription


class EventBus(Protocol):
    def publish(self, cursors: Mapping[str, int]) -> None:
        """Announce that each session's events now reach its cursor (after they committed).

        Thread-safe and non-blocking: stores call it from the thread that committed.
        """
        ...

    def subscribe(self, session_id: str, capacity: int) -> Subscription:
        """Notifications for one session, on the running event loop, until `close()`."""
        ...

    def subscriber_count(self, session_id: str) -> int: ...

    def close(self) -> None:
        """End every subscription, now and later (the server is shutting down)."""
        ...


class RunSignals(Protocol):
    """What a run executor tells the other processes sharing the database, for the runs it
    cannot act on itself. Non-blocking; delivery is best effort (the store stays the record,
    and executors also sweep it)."""

    def runnable(self, session_id: str) -> None:
        """A run of the session may be runnable: wake one idle process that executes runs."""
        ...

    def stop(self, worker_id: str, session_id: str) -> None:
        """A run of the session executing in process `worker_id` was asked to stop."""
        ...
