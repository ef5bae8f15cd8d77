"""The stream's core without HTTP: the store announces committed cursors (never rolled back
ones), replay pages hand over to live reads, the run filter holds across pages and while
live, a burst of commits never cuts a reader that keeps up, and closing the bus ends streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from corral.bus import LocalEventBus
from corral.bus.subscription import Subscription
from corral.caller import ANONYMOUS
from corral.core.services.event_stream import (
    SessionEventStreams,
    SharedPages,
    StreamPolicy,
    resume_after,
)
from corral.errors import CorralError
from corral.results import SseFrame
from corral.store import SessionRecord, Tx, WorkspaceRecord
from corral.store.sqlite import SqliteStore
from corral.testing.waiting import wait_for_async

T0 = datetime(2026, 11, 23, tzinfo=UTC)
GUARD_S = 60  # a deadlock guard, never a timing assertion


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "corral.db")
    await s.open()

    def seed(tx: Tx) -> None:
        times = {"created_at": T0, "updated_at": T0}
        tx.insert_workspace(WorkspaceRecord(id="ws_1", name="w", root_path="/w", **times))
        for ses in ("ses_1", "ses_2"):
            tx.insert_session(
                SessionRecord(
                    id=ses, workspace_id="ws_1", subject_ref="u", active_agent_name="a", **times
                )
            )

    await s.write(seed)
    try:
        yield s
    finally:
        await s.close()


class WatchedBus(LocalEventBus):
    """The in-process bus, keeping every subscription it hands out for the test to watch."""

    def __init__(self) -> None:
        super().__init__()
        self.handed_out: list[Subscription] = []

    def subscribe(self, session_id: str, capacity: int) -> Subscription:
        self.handed_out.append(super().subscribe(session_id, capacity))
        return self.handed_out[-1]


def streams(store: SqliteStore, **policy: float) -> SessionEventStreams:
    bus = WatchedBus()
    store.add_event_listener(bus.publish)
    return SessionEventStreams(store, bus, StreamPolicy(**policy))  # type: ignore[arg-type]


async def caught_up(events: SessionEventStreams) -> Subscription:
    """The one stream's subscription once its reader has read all there was and waits for
    more (live): from then on, a commit reaches it as a notification, not in a replay."""
    assert isinstance(events.bus, WatchedBus)
    bus = events.bus
    (sub,) = await wait_for_async(
        lambda: [s for s in bus.handed_out if s.live], what="the reader to catch up"
    )
    return sub


async def append(store: SqliteStore, *runs: str, session_id: str = "ses_1") -> None:
    """One event per run named, in one transaction."""

    def write(tx: Tx) -> None:
        for run in runs:
            tx.append_event(session_id, run, "run.queued", {"runId": run}, T0)

    await store.write(write)


async def take(frames: AsyncIterator[SseFrame], count: int) -> list[SseFrame]:
    async with asyncio.timeout(GUARD_S):
        got: list[SseFrame] = []
        while len(got) < count:
            frame = await anext(frames)
            if frame.event:
                got.append(frame)
        return got


async def test_the_store_announces_what_committed_and_nothing_rolled_back(
    store: SqliteStore,
) -> None:
    heard: list[Mapping[str, int]] = []
    store.add_event_listener(heard.append)

    await append(store, "run_a", "run_b")
    await append(store, "run_c", session_id="ses_2")
    await store.write(lambda tx: tx.get_session("ses_1"))  # no event, nothing to announce

    def fails(tx: Tx) -> None:
        tx.append_event("ses_1", "run_d", "run.queued", {}, T0)
        raise CorralError("session_busy", "rolled back")

    with pytest.raises(CorralError):
        await store.write(fails)
    assert heard == [{"ses_1": 2}, {"ses_2": 1}]

    def broken_listener(cursors: Mapping[str, int]) -> None:
        raise RuntimeError("a listener bug")

    store.add_event_listener(broken_listener)
    await append(store, "run_e")  # committed and answered all the same
    assert heard[-1] == {"ses_1": 3}
    assert await store.read(lambda tx: tx.last_event_cursor("ses_1")) == 3


async def test_replay_pages_hand_over_to_live_and_the_run_filter_holds(
    store: SqliteStore,
) -> None:
    events = streams(store, page_size=2)
    await append(store, "run_a", "run_b", "run_a", "run_b", "run_b", "run_a", "run_b")
    every = await events.open(
        ANONYMOUS, "ses_1", run_id=None, cursor=None, last_event_id=None, follow=True
    )
    of_a = await events.open(
        ANONYMOUS, "ses_1", run_id="run_a", cursor="1", last_event_id=None, follow=True
    )

    replayed = await take(every, 7)
    assert [f.id for f in replayed] == [str(c) for c in range(1, 8)]
    assert [f.id for f in await take(of_a, 2)] == ["3", "6"]

    for runs in (("run_b", "run_b", "run_b"), ("run_a",), ("run_b", "run_a")):
        await append(store, *runs)  # live now: 8-10, 11, 12-13
    assert [f.id for f in await take(every, 6)] == [str(c) for c in range(8, 14)]
    assert [f.id for f in await take(of_a, 2)] == ["11", "13"]
    await every.aclose()
    await of_a.aclose()
    assert events.bus.subscriber_count("ses_1") == 0


async def test_a_burst_of_commits_does_not_cut_a_reader_that_keeps_up(
    store: SqliteStore,
) -> None:
    events = streams(store, max_lag_events=3, page_size=4)
    frames = await events.open(
        ANONYMOUS, "ses_1", run_id=None, cursor=None, last_event_id=None, follow=True
    )
    reading = asyncio.ensure_future(take(frames, 21))
    await caught_up(events)
    await append(store, *["run_a"] * 21)  # far more than the lag, in one commit
    assert [f.id for f in await reading] == [str(c) for c in range(1, 22)]
    assert events.bus.subscriber_count("ses_1") == 1
    await frames.aclose()


async def test_a_reader_that_does_not_take_its_frame_is_cut_off(store: SqliteStore) -> None:
    events = streams(store, max_lag_events=3)
    frames = await events.open(
        ANONYMOUS, "ses_1", run_id=None, cursor=None, last_event_id=None, follow=True
    )
    waiting = asyncio.ensure_future(take(frames, 1))
    sub = await caught_up(events)
    await append(store, "run_a")
    await waiting  # handed out, frame 1 counts as untaken until the reader asks for more
    for _ in range(2):
        await append(store, "run_a")
    await wait_for_async(lambda: sub.committed == 3, what="the reader to hear of cursor 3")
    assert not sub.ended and events.bus.subscriber_count("ses_1") == 1  # 3 behind: within
    await append(store, "run_a")
    await wait_for_async(lambda: sub.committed == 4, what="the reader to hear of cursor 4")
    assert sub.ended and events.bus.subscriber_count("ses_1") == 0  # cut off, while stalled
    assert [f async for f in frames] == []  # and its stream ends when it reads again


async def test_closing_the_bus_ends_streams_and_refuses_new_ones(store: SqliteStore) -> None:
    events = streams(store, ping_seconds=GUARD_S)
    await append(store, "run_a")
    frames = await events.open(
        ANONYMOUS, "ses_1", run_id=None, cursor=None, last_event_id=None, follow=True
    )
    await take(frames, 1)
    rest = asyncio.ensure_future(take(frames, 1))
    await caught_up(events)  # waiting for live events
    events.bus.close()
    with pytest.raises(StopAsyncIteration):
        await rest
    later = await events.open(
        ANONYMOUS, "ses_1", run_id=None, cursor=None, last_event_id=None, follow=True
    )
    assert [f async for f in later] == []


async def test_an_unknown_session_fails_before_a_stream_exists(store: SqliteStore) -> None:
    with pytest.raises(CorralError) as err:
        await streams(store).open(
            ANONYMOUS, "ses_nope", run_id=None, cursor=None, last_event_id=None, follow=True
        )
    assert (err.value.status, err.value.code) == (404, "session_not_found")


async def test_readers_share_a_page_only_when_their_own_read_would_return_it(
    store: SqliteStore,
) -> None:
    pages = SharedPages(store, page_size=10)
    since_a = pages.reads_begun
    empty = await pages.read_shared("ses_1", 0, None, since_a, reached=0)
    assert empty == []
    # Same place, nothing newer announced, the read began after subscribing: shared.
    assert await pages.read_shared("ses_1", 0, None, since_a, reached=0) is empty
    assert pages.reads_begun == 1
    await append(store, "run_a")
    # Told of cursor 1, which that read may not have seen: read again.
    assert [c for c, _ in await pages.read_shared("ses_1", 0, None, since_a, reached=1)] == [1]
    await append(store, "run_a")
    # Subscribed after the last read began: its own read would see cursor 2, so it reads.
    since_b = pages.reads_begun
    fresh = await pages.read_shared("ses_1", 0, None, since_b, reached=0)
    assert [c for c, _ in fresh] == [1, 2]
    assert await pages.read_shared("ses_1", 0, "run_b", since_b, reached=0) == []  # other filter


@pytest.mark.parametrize(
    ("cursor", "last_event_id", "after"),
    [
        (None, None, 0),
        ("", None, 0),  # empty is absent: the whole history
        ("", "", 0),
        ("7", None, 7),
        ("007", None, 7),
        (None, "7", 7),
        ("", "7", 7),
        ("7", "9", 7),  # the query parameter wins
        (str(2**63 - 1), None, 2**63 - 1),
    ],
)
def test_resume_after(cursor: str | None, last_event_id: str | None, after: int) -> None:
    assert resume_after(cursor, last_event_id) == after


@pytest.mark.parametrize(
    ("cursor", "last_event_id"),
    [
        ("x7", "9"),  # the query parameter wins even when it is not an integer
        ("-1", None),
        ("1.5", None),
        (" 7", None),
        ("\u0667", None),  # an Arabic-Indic seven is not an ASCII integer
        (str(2**63), None),  # beyond what the store can compare
        ("9" * 40, None),
        (None, "soon"),
        ("", "-1"),
    ],
)
def test_resume_after_refuses_what_is_not_an_event_cursor(
    cursor: str | None, last_event_id: str | None
) -> None:
    with pytest.raises(CorralError) as caught:
        resume_after(cursor, last_event_id)
    assert (caught.value.code, caught.value.status) == ("invalid_cursor", 400)
