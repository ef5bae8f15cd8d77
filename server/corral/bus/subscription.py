"""One reader's view of one session's event notifications.

A notification says only "this session's events now reach cursor N"; the reader fetches the
events themselves from the store. So notifications coalesce into a single number, the highest
committed cursor: the buffer holds one integer whatever the event rate, and a reader that
stops reading costs the writers nothing.

A reader falls behind only while it does not take what the stream hands it: the stream
marks those moments (`taken` is the last cursor the reader took, None while the stream reads
the store or waits). A commit that finds `taken` more than `capacity` events back, once the
stream is `live` (replaying history is not falling behind), ends the subscription: `ended`
turns true, the bus forgets it at once and a waiting reader wakes up to learn it. A burst of
commits never ends a reader that keeps up. The bus also ends its subscriptions when it closes
(the server is shutting down).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Subscription:
    __slots__ = (
        "_release",
        "_waiter",
        "capacity",
        "committed",
        "ended",
        "live",
        "session_id",
        "taken",
    )

    def __init__(
        self, session_id: str, capacity: int, release: Callable[[Subscription], None]
    ) -> None:
        self.session_id = session_id
        self.capacity = capacity
        self.committed = 0  # highest cursor announced since subscribing
        self.live = False
        self.taken: int | None = None
        self.ended = False
        self._waiter: asyncio.Future[bool] | None = None
        self._release: Callable[[Subscription], None] | None = release

    async def wait_beyond(self, cursor: int) -> bool:
        """Wait until a cursor above `cursor` is committed or the subscription ends; False
        when `nudge()` interrupts the wait first."""
        while self.committed <= cursor and not self.ended:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                if not await self._waiter:
                    return False
            finally:
                self._waiter = None
        return True

    def nudge(self) -> None:
        """Interrupt a wait, e.g. for the reader to send a keep-alive (no timer per wait)."""
        self._wake(False)

    def close(self) -> None:
        """Stop receiving notifications (idempotent)."""
        release, self._release = self._release, None
        if release is not None:
            release(self)

    def advance(self, cursor: int) -> None:
        """Called by the bus, on the event loop, when `cursor` has committed."""
        if cursor <= self.committed:
            return
        self.committed = cursor
        if self.live and self.taken is not None and cursor - self.taken > self.capacity:
            self.end()
        else:
            self._wake(True)

    def end(self) -> None:
        """The reader must end its stream; it is told nothing more from now on."""
        self.ended = True
        self.close()
        self._wake(True)

    def _wake(self, news: bool) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(news)
