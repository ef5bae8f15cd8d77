"""Commits made by other processes sharing the database (a `corral worker`, another API process):
the store announces only this process's own commits, so its foreign-commit mark is polled, and
when it moved, each listener looks again at what concerns it. Listeners here: the live events of
the sessions someone follows (`event_publisher`), and the run executor (runs queued and cancels
requested elsewhere).

With a notification link between the processes (Redis, `redis_link`), the poll is only a safety
net: `set_linked(True)` slows it to `linked_interval_s` and has every listener look once (for
what was missed while the link was down); `set_linked(False)` brings back `interval_s`. An
interval of 0 polls never (a look is still made when the link comes up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from corral.store import Store

from .local import LocalEventBus

log = logging.getLogger("corral.events")

Listener = Callable[[], Awaitable[None]]


class ForeignCommitPoller:
    def __init__(self, store: Store, interval_s: float, linked_interval_s: float = 0) -> None:
        self.store = store
        self.interval_s = interval_s
        self.linked_interval_s = linked_interval_s
        self._current_s = interval_s
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None
        self._forced = False  # every listener looks at the next turn, whatever the mark says
        self._nudged = asyncio.Event()  # the next turn comes now

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def set_linked(self, linked: bool) -> None:
        """Whether other processes' commits are notified now (the link is up)."""
        self._current_s = self.linked_interval_s if linked else self.interval_s
        self._forced = self._forced or linked
        self._nudged.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll(), name="corral-foreign-commits")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _poll(self) -> None:
        seen: int | None = None  # the first look tells everyone: a commit may predate it
        while True:
            self._nudged.clear()
            forced, self._forced = self._forced, False
            try:
                mark = await self.store.foreign_commit_mark()
                if mark != seen or forced:
                    for listener in self._listeners:
                        await listener()
                    seen = mark  # only once all have looked: a failure is retried
            except Exception:
                log.exception("polling for other processes' commits failed; retrying")
                self._forced = self._forced or forced
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudged.wait(), self._current_s or None)


def event_publisher(store: Store, bus: LocalEventBus) -> Listener:
    """Publishes on the local bus how far followed sessions' events have advanced."""

    async def publish() -> None:
        sessions = bus.watched_sessions()
        if sessions:
            cursors = await store.read(lambda tx: tx.last_event_cursors(sessions))
            bus.publish(cursors)  # a cursor a subscription already reached is a no-op

    return publish
