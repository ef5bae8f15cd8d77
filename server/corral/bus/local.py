"""The in-process event bus: notifications reach the subscriptions of this process only.

`watch`, when set, is told when a session gains its first subscription here (True) and loses
its last (False): a link to other processes (`redis_link`) listens for exactly those sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

from .subscription import Subscription


class LocalEventBus:
    """Subscriptions live on one event loop; `publish` may come from any thread."""

    def __init__(self) -> None:
        self._subscriptions: dict[str, set[Subscription]] = {}  # changed on the loop only
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.watch: Callable[[str, bool], None] | None = None

    def publish(self, cursors: Mapping[str, int]) -> None:
        # Sessions nobody watches cost no wake-up of the loop. Skipping one is safe: a reader
        # subscribes before it reads the store, so a subscription missing here was added after
        # this commit and its first read sees the commit anyway.
        watched = {s: c for s, c in cursors.items() if s in self._subscriptions}
        loop = self._loop
        if not watched or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: its readers are gone too
            loop.call_soon_threadsafe(self._deliver, watched)

    def subscribe(self, session_id: str, capacity: int) -> Subscription:
        self._loop = asyncio.get_running_loop()
        subscription = Subscription(session_id, capacity, self._release)
        if self._closed:
            subscription.end()
            return subscription
        subscribers = self._subscriptions.get(session_id)
        if subscribers is None:
            subscribers = self._subscriptions[session_id] = set()
            if self.watch is not None:
                self.watch(session_id, True)
        subscribers.add(subscription)
        return subscription

    def close(self) -> None:
        """End every subscription, now and later: streams end instead of holding the server
        (which waits for open responses) when it shuts down. Call on the event loop."""
        self._closed = True
        for subscribers in tuple(self._subscriptions.values()):
            for subscription in tuple(subscribers):
                subscription.end()

    def watched_sessions(self) -> list[str]:
        return list(self._subscriptions)

    def subscriber_count(self, session_id: str) -> int:
        return len(self._subscriptions.get(session_id, ()))

    def _deliver(self, cursors: Mapping[str, int]) -> None:
        for session_id, cursor in cursors.items():
            for subscription in tuple(self._subscriptions.get(session_id, ())):
                subscription.advance(cursor)

    def _release(self, subscription: Subscription) -> None:
        subscribers = self._subscriptions.get(subscription.session_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscriptions[subscription.session_id]
                if self.watch is not None:
                    self.watch(subscription.session_id, False)
