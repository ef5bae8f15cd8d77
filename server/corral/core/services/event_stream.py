"""A session's event stream (`GET /sessions/{id}/events`): the stored events after a cursor,
then the live ones as they commit, as SSE frames.

Events are always read from the store by cursor, replay and live alike; the bus only says how
far a session's events reach. The stream subscribes before its first read, so every commit is
either visible to that read or announced afterwards: nothing falls between replay and live,
and since each read starts after the last cursor sent, nothing is sent twice.

A live reader that leaves more than `max_lag_events` events untaken has its stream ended at
the next chance (at once if it is waiting; once its pending send completes if its socket is
full); it resumes from its cursor. A stalled reader holds its blocked send and at most one
page of events, never a growing queue.

Readers of one session usually stand at the same cursor when a commit wakes them all, so they
share one read (`SharedPages`), and one timer nudges every waiting reader into a keep-alive
(`KeepAlive`) instead of one timer per wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import orjson

from corral.bus import EventBus, Subscription
from corral.caller import Caller
from corral.core.services.pagination import invalid_cursor
from corral.core.workspace import access
from corral.results import SseFrame
from corral.store import EventRecord, Store

RETRY_MS = 1000  # the reconnection delay suggested to clients (a cut-off reader resumes fast)
MAX_CURSOR = 2**63 - 1  # the largest integer the store can compare with

Page = list[tuple[int, SseFrame]]  # (cursor, frame) in cursor order


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    ping_seconds: float = 15.0  # a comment on an idle stream keeps proxies from closing it
    max_lag_events: int = 1000
    page_size: int = 500


def resume_after(cursor: str | None, last_event_id: str | None) -> int:
    """The cursor to stream after: `cursor` wins over `Last-Event-ID`. Absent or empty means
    the whole history (OAH's clients open streams without one); anything else that is not an
    integer the store can compare (0 to 2^63-1) is 400 `invalid_cursor`, as for listings."""
    name, value = ("cursor", cursor) if cursor else ("Last-Event-ID", last_event_id)
    if not value:
        return 0
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_CURSOR:
        raise invalid_cursor(
            value, f"{name} must be an event cursor: an integer from 0 to {MAX_CURSOR}"
        )
    return int(value)


class SessionEventStreams:
    def __init__(self, store: Store, bus: EventBus, policy: StreamPolicy) -> None:
        self.store = store
        self.bus = bus
        self.policy = policy
        self.pages = SharedPages(store, policy.page_size)
        self.keepalive = KeepAlive(policy.ping_seconds)

    async def open(
        self,
        caller: Caller,
        session_id: str,
        *,
        run_id: str | None,
        cursor: str | None,
        last_event_id: str | None,
        follow: bool,
    ) -> AsyncIterator[SseFrame]:
        """Checked before the first byte: a bad cursor or an unknown session is an error, not
        an empty stream."""
        after = resume_after(cursor, last_event_id)
        await self.store.read(lambda tx: access.session(tx, caller, session_id))
        if not follow:
            return self._replay(session_id, after, run_id)
        return self._follow(session_id, after, run_id)

    async def _replay(
        self, session_id: str, after: int, run_id: str | None
    ) -> AsyncIterator[SseFrame]:
        first = True
        while True:
            page = await self.pages.read(session_id, after, run_id)
            for cursor, frame in page:
                yield _with_retry(frame) if first else frame
                first, after = False, cursor
            if len(page) < self.policy.page_size:
                return

    async def _follow(
        self, session_id: str, after: int, run_id: str | None
    ) -> AsyncIterator[SseFrame]:
        # Subscribed here, not in open(): only a started generator runs its `finally`.
        sub = self.bus.subscribe(session_id, self.policy.max_lag_events)
        since = self.pages.reads_begun
        self.keepalive.add(sub)
        first = True
        try:
            while not sub.ended:
                reached = sub.committed  # before the read: the read sees all of it
                page = await self.pages.read_shared(session_id, after, run_id, since, reached)
                for cursor, frame in page:
                    sub.taken = after  # while the reader has not taken this frame
                    yield _with_retry(frame) if first else frame
                    sub.taken, first, after = None, False, cursor
                    if sub.ended:
                        return
                if len(page) < self.policy.page_size:
                    # Caught up. With a run filter the read also passed over other runs' events.
                    after = max(after, reached)
                    sub.live = True
                    while not await sub.wait_beyond(after):
                        sub.taken = after
                        yield SseFrame.keepalive()
                        sub.taken = None
        finally:
            sub.close()
            self.keepalive.discard(sub)
            self.pages.forget_unless_followed(session_id, self.bus)


class SharedPages:
    """Reads pages of a session's events as frames, and keeps the last page read for each
    followed session, for a reader at the same place to take instead of reading again.

    Taking it must not break "subscribe before reading": the page must come from a read that
    began after the reader subscribed (`since`, a count of reads begun), and that read must
    have been sure to see every commit the reader has been told of (`reached`). Events never
    change once committed, so such a page is exactly what the reader's own read would return.
    """

    def __init__(self, store: Store, page_size: int) -> None:
        self.store = store
        self.page_size = page_size
        self.reads_begun = 0
        self._last: dict[str, _Read] = {}  # by session

    async def read(self, session_id: str, after: int, run_id: str | None) -> Page:
        self.reads_begun += 1
        limit = self.page_size
        events = await self.store.read(lambda tx: tx.list_events(session_id, after, limit, run_id))
        return [(rec.cursor, _frame(rec)) for rec in events]

    async def read_shared(
        self, session_id: str, after: int, run_id: str | None, since: int, reached: int
    ) -> Page:
        last = self._last.get(session_id)
        if (
            last is not None
            and (last.after, last.run_id) == (after, run_id)
            and last.number > since
            and reached <= last.reached
        ):
            return last.page
        number = self.reads_begun + 1
        page = await self.read(session_id, after, run_id)
        self._last[session_id] = _Read(after, run_id, number, reached, page)
        return page

    def forget_unless_followed(self, session_id: str, bus: EventBus) -> None:
        if bus.subscriber_count(session_id) == 0:
            self._last.pop(session_id, None)


@dataclass(frozen=True, slots=True)
class _Read:
    after: int
    run_id: str | None
    number: int  # reads began in this order
    reached: int  # every commit up to this cursor is in the page or was passed over
    page: Page


class KeepAlive:
    """One timer for all waiting readers: every `seconds` it nudges each of them into sending
    a keep-alive comment, and it stops while nobody follows a stream."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._followers: set[Subscription] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, sub: Subscription) -> None:
        self._followers.add(sub)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.seconds, self._tick)

    def discard(self, sub: Subscription) -> None:
        self._followers.discard(sub)

    def _tick(self) -> None:
        for sub in self._followers:
            sub.nudge()
        self._timer = None
        if self._followers:
            self._timer = asyncio.get_running_loop().call_later(self.seconds, self._tick)


def _frame(rec: EventRecord) -> SseFrame:
    return SseFrame(
        rec.event,
        orjson.dumps(rec.data).decode(),
        id=str(rec.cursor),
        created_at=rec.created_at.isoformat().replace("+00:00", "Z"),
    )


def _with_retry(frame: SseFrame) -> SseFrame:
    """The first event of a connection also suggests how soon to reconnect."""
    return replace(frame, retry_ms=RETRY_MS)
