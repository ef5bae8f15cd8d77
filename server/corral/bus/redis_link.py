"""Committed events and run signals between processes, through Redis (`redis_url`).

Processes sharing a database (API processes, `corral worker`s, on any number of machines) tell
each other what they committed through one Redis instead of each polling the database. Only
cursors and session ids travel; the store stays the record (see `base`).

Committed events. The store hands this link, after each commit that appended events, how far
each session's events now reach; one task publishes them on the session's channel
(`<prefix>ev:<session>`, payload "<cursor> <origin process>"), coalesced: the highest cursor per
session however many commits came meanwhile, all sessions in one pipelined round trip. A process
listens to a session's channel while, and only while, one of its readers follows the session:
the local bus tells the link when a session gains its first reader and loses its last (`watch`),
and one task brings the subscriptions of the process's single Pub/Sub connection in line with
that set. So readers cost no connection and no subscription of their own, a process hears only
of the sessions it serves, and a session's channel is left when its last reader leaves. A
message is published on the local bus, waking the readers at once; they read the events from
the store by cursor as always.

A subscription receives only once Redis confirms it, and an announcement made before that is
not repeated: on each confirmation the link reads the session's last cursor from the store and
publishes it locally (a reader subscribes locally before it reads the store, so nothing falls in
between).

Run signals (`base.RunSignals`, sent by the run executor). A run this process will not execute
pushes its session onto a list (`<prefix>runnable`, trimmed: entries are hints, the executors'
sweep finds anything dropped); each process that executes runs waits on the list (BRPOP, on a
connection of its own) while it has a free slot, so one idle worker wakes per run, at once. A
stop (cancel, interrupt, guide) of a run executing in another process is published on that
process's channel (`<prefix>proc:<worker id>`, from the run's `metadata.worker`), which every
process's Pub/Sub connection listens to. Either way the receiving executor looks at the session
again, as after its own writes.

Redis may be down, at start or later: the server never fails for it. Announcements wait in
memory (bounded: one cursor per session touched, one hint per session) and go out once Redis is
back; every connection retries with a capped backoff. The link is up once the Pub/Sub
connection is subscribed and announcements go out; `on_link` is told each change, and the
foreign-commit poller (`foreign_commits`) polls the database at its no-Redis pace while the link
is down, and looks once more when it comes back, for what was missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from functools import partial
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from corral.store import Store

from .local import LocalEventBus
from .redis_calls import call, end_tasks, failed, set_from_any_thread
from .redis_pending import PendingAnnouncements

log = logging.getLogger("corral.redis")

Look = Callable[[str], Awaitable[None]]
RUNNABLE_KEPT = 10_000  # hints kept on the list while no worker takes them
POP_TIMEOUT_S = 2  # an idle BRPOP ends within redis-py's 5 s socket timeout
READ_S = 1.0  # the longest a Pub/Sub read waits (other calls: the 5 s socket timeout)
RETRY_S = (0.05, 5.0)  # first and longest wait before a connection is tried again
STOP_FLUSH_S = 2.0  # how long the last announcements may take at shutdown
HEALTH_CHECK_S = 10  # an idle connection is pinged before use after this long


class RedisLink:
    """One process's link to Redis: 2 connections (commands, Pub/Sub), 3 when it executes runs
    (BRPOP), named `<prefix><process id>` in CLIENT LIST."""

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        process_id: str,
        store: Store,
        bus: LocalEventBus,
        on_link: Callable[[bool], None],
    ) -> None:
        self.prefix = prefix
        self.process_id = process_id
        self._store = store
        self._bus = bus
        self._on_link = on_link
        options: dict[str, Any] = {
            "decode_responses": True,
            "retry": Retry(NoBackoff(), 0),  # a failure surfaces here; the link reconnects
            "client_name": f"{prefix}{process_id}",
            # A connection that died without closing (an idle-timeout on the way, Redis moved)
            # is found by a ping instead of looking quiet forever.
            "health_check_interval": HEALTH_CHECK_S,
        }
        if not url.startswith("unix:"):  # TCP only: a Unix socket has no keepalive
            options["socket_keepalive"] = True
        self._redis: Redis = Redis.from_url(url, **options)
        self._popper: Redis = Redis.from_url(url, **options)
        kwargs = self._redis.connection_pool.connection_kwargs
        self.where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        self._proc_channel = self.process_channel(process_id)
        self._runnable_key = f"{prefix}runnable"
        self._pending = PendingAnnouncements()
        self._to_send = asyncio.Event()
        # Sessions a local reader follows, and the confirmed subscriptions awaiting a catch-up.
        self._watched: set[str] = set()
        self._watch_changed = asyncio.Event()
        self._confirmed: set[str] = set()
        self._to_catch_up = asyncio.Event()
        self._look: Look | None = None
        # What works now: the Pub/Sub connection, sending, taking runs (None: not asked to).
        self._listening = False
        self._sending = True
        self._taking: bool | None = None
        self._was_up = False
        self._closing = False
        self._became_up = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._taker: asyncio.Task[None] | None = None
        self._looks: set[asyncio.Task[None]] = set()

    def process_channel(self, process_id: str) -> str:
        return f"{self.prefix}proc:{process_id}"

    def event_channel(self, session_id: str) -> str:
        return f"{self.prefix}ev:{session_id}"

    # -- life ---------------------------------------------------------------------------

    async def start(self, wait_s: float = 5.0) -> None:
        """Start linking; wait up to `wait_s` for the link, so that a process starting beside a
        running Redis is linked before it serves. Redis unreachable: start anyway, say so."""
        self._pending.wake = partial(set_from_any_thread, asyncio.get_running_loop(), self._to_send)
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="corral-redis-send"),
            asyncio.create_task(self._listen_loop(), name="corral-redis-listen"),
            asyncio.create_task(self._catch_up_loop(), name="corral-redis-catch-up"),
        ]
        self._to_send.set()  # anything announced before the loop ran
        try:
            await asyncio.wait_for(self._became_up.wait(), wait_s)
        except TimeoutError:
            log.warning(
                "Redis at %s is unreachable; serving without it (polling the database for other "
                "processes' commits) and retrying",
                self.where,
            )

    def take_runs(self, look: Look, wait_for_slot: Callable[[], Awaitable[None]]) -> None:
        """Execute runs here: `look` at the sessions signalled to this process, and at those
        of the runnable list while `wait_for_slot` says a slot is free."""
        self._look = look
        self._taking = True
        self._taker = asyncio.create_task(self._take_loop(wait_for_slot), name="corral-redis-take")

    async def stop_taking_runs(self) -> None:
        if self._taker is not None:
            await end_tasks([self._taker])
            self._taker = None
        self._look = None

    async def close(self) -> None:
        """Send what is still announced (briefly), then end every connection."""
        self._closing = True
        await self.stop_taking_runs()
        if self._tasks:  # started
            sender, *others = self._tasks
            await end_tasks([*others, *self._looks])
            await end_tasks([sender])
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                await asyncio.wait_for(self._send_once(), STOP_FLUSH_S)
        await self._redis.aclose()
        await self._popper.aclose()

    # -- status -------------------------------------------------------------------------

    @property
    def events_up(self) -> bool:
        return self._listening and self._sending

    @property
    def run_queue_up(self) -> bool:
        return self.events_up and self._taking is not False

    def _note(self, *, listening: bool | None = None, sending: bool | None = None) -> None:
        if listening is not None:
            self._listening = listening
        if sending is not None:
            self._sending = sending
        up = self.events_up
        if up == self._was_up or self._closing:
            return
        self._was_up = up
        if up:
            log.info("linked to Redis at %s", self.where)
            self._became_up.set()
        else:
            log.warning("lost Redis at %s; polling the database until it is back", self.where)
            self._became_up.clear()
        self._on_link(up)

    # -- announcements (any thread) -------------------------------------------------------

    def announce(self, cursors: Mapping[str, int]) -> None:
        """Store event listener: these sessions' events now reach these cursors."""
        self._pending.cursors(cursors)

    def runnable(self, session_id: str) -> None:
        self._pending.runnable(session_id)

    def stop(self, worker_id: str, session_id: str) -> None:
        self._pending.stop(worker_id, session_id)

    async def _send_loop(self) -> None:
        wait = RETRY_S[0]
        while True:
            await self._to_send.wait()
            self._to_send.clear()
            try:
                await self._send_once()
            except Exception as exc:
                failed("announcing to Redis", exc, self._sending)
                self._note(sending=False)
                await asyncio.sleep(wait)
                wait = min(wait * 2, RETRY_S[1])
                self._to_send.set()
                continue
            wait = RETRY_S[0]
            self._note(sending=True)

    async def _send_once(self) -> None:
        batch = self._pending.take()
        if not batch:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for session_id, cursor in batch.cursors.items():
                pipe.publish(self.event_channel(session_id), f"{cursor} {self.process_id}")
            if batch.runnable:
                pipe.lpush(self._runnable_key, *batch.runnable)
                pipe.ltrim(self._runnable_key, 0, RUNNABLE_KEPT - 1)
            for worker_id, session_id in batch.stops:
                pipe.publish(self.process_channel(worker_id), session_id)
            await call(pipe.execute())
        except BaseException:
            self._pending.put_back(batch)
            raise

    # -- listening: one Pub/Sub connection ------------------------------------------------

    def watch(self, session_id: str, watched: bool) -> None:
        """Local bus hook (on the loop): a session gained its first reader, or lost its last."""
        if watched:
            self._watched.add(session_id)
        else:
            self._watched.discard(session_id)
        self._watch_changed.set()

    async def _listen_loop(self) -> None:
        wait = RETRY_S[0]
        while True:
            pubsub = self._redis.pubsub()
            try:
                await call(pubsub.subscribe(self._proc_channel))
                reading = asyncio.create_task(self._read(pubsub))
                syncing = asyncio.create_task(self._sync_subscriptions(pubsub))
                try:
                    done, _ = await asyncio.wait(
                        (reading, syncing), return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    reading.cancel()
                    syncing.cancel()
                    await asyncio.gather(reading, syncing, return_exceptions=True)
                for task in done:
                    task.result()  # the error that ended the connection
            except Exception as exc:
                failed("listening to Redis", exc, self._listening)
            finally:
                was_listening = self._listening
                self._note(listening=False)
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
            wait = RETRY_S[0] if was_listening else min(wait * 2, RETRY_S[1])
            await asyncio.sleep(wait)

    async def _read(self, pubsub: PubSub) -> None:
        while True:
            message = await call(pubsub.get_message(timeout=READ_S))
            if message is not None:
                self._receive(message)

    def _receive(self, message: dict[str, Any]) -> None:
        kind, channel, data = message["type"], message["channel"], message["data"]
        session_id = channel.removeprefix(f"{self.prefix}ev:")
        on_session = session_id != channel
        if kind == "message" and on_session:
            cursor, _, origin = data.partition(" ")
            # this process's own readers heard of its commits already
            if origin != self.process_id and cursor.isdigit():
                self._bus.publish({session_id: int(cursor)})
        elif kind == "message" and channel == self._proc_channel:
            if self._look is not None:
                task = asyncio.create_task(self._look_at(self._look, data))
                self._looks.add(task)
                task.add_done_callback(self._looks.discard)
        elif kind == "subscribe" and on_session:
            self._confirmed.add(session_id)
            self._to_catch_up.set()
        elif kind == "subscribe" and channel == self._proc_channel:
            self._note(listening=True)

    async def _sync_subscriptions(self, pubsub: PubSub) -> None:
        """Keep this connection subscribed to the channels of exactly the watched sessions."""
        subscribed: set[str] = set()
        while True:
            self._watch_changed.clear()
            watched = set(self._watched)
            if added := watched - subscribed:
                await call(pubsub.subscribe(*map(self.event_channel, added)))
            if dropped := subscribed - watched:
                await call(pubsub.unsubscribe(*map(self.event_channel, dropped)))
            subscribed = watched
            await self._watch_changed.wait()

    async def _catch_up_loop(self) -> None:
        """Publish locally where newly confirmed sessions' events reach (see the module doc)."""
        while True:
            await self._to_catch_up.wait()
            self._to_catch_up.clear()
            sessions, self._confirmed = self._confirmed, set()
            try:
                await self._catch_up(sessions)
            except Exception:
                log.exception("reading the sessions just subscribed failed; retrying")
                self._confirmed |= sessions
                await asyncio.sleep(RETRY_S[1])
                self._to_catch_up.set()

    async def _catch_up(self, sessions: Collection[str]) -> None:
        watched = [s for s in sessions if s in self._watched]
        if watched:
            self._bus.publish(await self._store.read(lambda tx: tx.last_event_cursors(watched)))

    # -- taking runs: the runnable list ---------------------------------------------------

    async def _take_loop(self, wait_for_slot: Callable[[], Awaitable[None]]) -> None:
        wait = RETRY_S[0]
        while True:
            await wait_for_slot()
            try:
                popped = await call(self._popper.brpop([self._runnable_key], timeout=POP_TIMEOUT_S))
            except Exception as exc:
                failed("waiting for runs on Redis", exc, bool(self._taking))
                self._taking = False
                await asyncio.sleep(wait)
                wait = min(wait * 2, RETRY_S[1])
                continue
            self._taking, wait = True, RETRY_S[0]
            if popped is not None and self._look is not None:
                await self._look_at(self._look, str(popped[1]))

    @staticmethod
    async def _look_at(look: Look, session_id: str) -> None:
        try:
            await look(session_id)
        except Exception:  # the executor's sweep comes round to it
            log.exception("looking at session %s on a signal failed", session_id)
