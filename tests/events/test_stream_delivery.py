"""Delivery under load: replay hands over to live with no gap and no duplicate while writes
race the handover, and a reader that stops reading is cut off without holding back the writers
or the other readers, then resumes from its cursor."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
from events_support import last_cursor, new_session, send, stored_events, stream

from corral.testing.live_server import LiveServer
from corral.testing.waiting import wait_for

WRITERS = 4
MESSAGES_EACH = 15


def test_readers_opening_during_writes_get_every_event_once(
    shared_server: LiveServer, shared_api: httpx.Client
) -> None:
    session_id = new_session(shared_api)["id"]
    send(shared_api, session_id, "before any reader")
    start = threading.Barrier(WRITERS + 1)

    def write() -> None:
        with httpx.Client(base_url=shared_server.url, timeout=10) as api:
            start.wait()
            for i in range(MESSAGES_EACH):
                send(api, session_id, f"message {i}")

    writers = [threading.Thread(target=write) for _ in range(WRITERS)]
    for writer in writers:
        writer.start()
    start.wait()
    # Readers open one after another while the writers run: each hands over from replay to
    # live at a different point of the write stream.
    readers = []
    for _ in range(4):
        readers.append(stream(shared_server.url, session_id))
        readers[-1].events(1)
    for writer in writers:
        writer.join()

    through = last_cursor(shared_server.settings.data_dir, session_id)
    stored = stored_events(shared_server.settings.data_dir, session_id)[:through]
    for reader in readers:
        with reader:
            frames = reader.events_through(through)  # cursor 1 was read above
        assert [f.cursor for f in frames] == list(range(2, through + 1))
        assert [f.data for f in frames] == [e["data"] for e in stored[1:]]


def test_a_stalled_reader_is_cut_off_and_resumes_from_its_cursor(
    start_server: Callable[..., Any],
) -> None:
    live = start_server(sse_max_lag_events=8)
    bus = live.core.event_bus
    data_dir = live.settings.data_dir
    with live.client() as api:
        session_id = new_session(api)["id"]
        # A reader that stops reading at once, on a socket with a small receive window.
        stalled = stream(live.url, session_id, receive_buffer=4096)
        steady = stream(live.url, session_id)
        wait_for(lambda: bus.subscriber_count(session_id) == 2, what="both readers to subscribe")
        big = "x" * 16_384
        sent = 0
        # Write until the server gives up on the stalled reader (its subscription goes while
        # the steady one stays); the bound only guards against a hang.
        while bus.subscriber_count(session_id) == 2:
            assert sent < 2_000, "the stalled reader was never cut off"
            send(api, session_id, big)
            sent += 1
            steady.events_through(last_cursor(data_dir, session_id))  # keeps up meanwhile
        assert bus.subscriber_count(session_id) == 1

        with stalled:
            got = [b.cursor for b in stalled.rest() if b.is_event]  # then the body ends
        assert got == list(range(1, len(got) + 1))
        through = last_cursor(data_dir, session_id)
        assert got[-1] < through  # it was cut off behind the live events

        resume = {"Last-Event-ID": str(got[-1])}
        with stream(live.url, session_id, headers=resume) as again:
            resumed = [b.cursor for b in again.events_through(through)]
        assert resumed == list(range(got[-1] + 1, through + 1))
        steady.close()
