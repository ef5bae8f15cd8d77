"""GET /api/v1/sessions/{id}/events on the wire: headers, the opening comment, frames that
carry the stored events exactly, the keep-alive, `follow=false`, the run filter, and the 404
that comes before any stream."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from events_support import new_session, send, stored_events, stream
from sse_wire import Block

from corral.testing.live_server import LiveServer
from corral.testing.waiting import wait_for

ISO_Z = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"


def assert_carries(frames: list[Block], stored: list[dict[str, Any]]) -> None:
    """Each frame is its stored event: `id: <cursor>`, `event:`, `createdAt:`, `data:`."""
    assert [f.cursor for f in frames] == [e["cursor"] for e in stored]
    for frame, event in zip(frames, stored, strict=True):
        names = [name for name, _ in frame.fields if name != "retry"]
        assert names == ["id", "event", "createdAt", "data"], frame.raw
        assert frame.get("event") == event["event"]
        assert frame.data == event["data"]
        created = frame.get("createdAt") or ""
        assert re.fullmatch(ISO_Z, created), created
        assert datetime.fromisoformat(created) == datetime.fromisoformat(event["createdAt"])


def test_a_replay_is_the_stored_events_framed_and_ends_with_follow_false(
    shared_server: LiveServer, shared_api: httpx.Client
) -> None:
    session_id = new_session(shared_api)["id"]
    send(shared_api, session_id, "first")
    send(shared_api, session_id, 'line one\nline two \u2028 and "quotes"')
    stored = stored_events(shared_server.settings.data_dir, session_id)

    with stream(shared_server.url, session_id, params={"follow": "false"}) as reader:
        assert reader.status == 200
        assert reader.headers["content-type"].startswith("text/event-stream")
        assert reader.headers["cache-control"] == "no-cache, no-transform"
        assert reader.headers["x-accel-buffering"] == "no"
        blocks = reader.rest()
        assert reader.ended  # the server ended the body: no live part

    assert blocks[0].raw == ": connected"
    frames = blocks[1:]
    assert "\r" not in "".join(b.raw for b in blocks)  # `\n` line endings only
    assert all("\n" not in (f.get("data") or "") for f in frames)  # one-line JSON
    # The stored events up to when the stream read them (a run may have added some since).
    assert_carries(
        frames, stored_events(shared_server.settings.data_dir, session_id)[: len(frames)]
    )
    assert len(frames) >= len(stored)
    assert frames[0].get("retry") is not None and int(frames[0].get("retry") or "") > 0
    assert all(f.get("retry") is None for f in frames[1:])  # the hint is given once


def test_live_events_follow_the_replay(shared_server: LiveServer, shared_api: httpx.Client) -> None:
    session_id = new_session(shared_api)["id"]
    with stream(shared_server.url, session_id) as reader:
        assert reader.next_block().raw == ": connected"  # type: ignore[union-attr]
        run_id = send(shared_api, session_id)["runId"]  # after the stream opened: delivered live
        first = reader.events(1)[0]
        assert (first.cursor, first.get("event"), first.data["runId"]) == (1, "run.queued", run_id)


def test_an_unknown_session_is_a_404_before_any_stream(shared_server: LiveServer) -> None:
    with stream(shared_server.url, "ses_00000000000000000000000000000000") as reader:
        assert reader.status == 404
        assert reader.headers["content-type"].startswith("application/json")
        assert reader.json()["error"]["code"] == "session_not_found"


def test_cursor_and_last_event_id_choose_where_the_replay_starts(
    shared_server: LiveServer, shared_api: httpx.Client
) -> None:
    session_id = new_session(shared_api)["id"]
    send(shared_api, session_id)
    send(shared_api, session_id)
    total = len(stored_events(shared_server.settings.data_dir, session_id))

    def cursors(params: dict[str, str], headers: dict[str, str] | None = None) -> list[int]:
        with stream(shared_server.url, session_id, params=params, headers=headers) as reader:
            assert reader.status == 200, reader.body
            return [b.cursor for b in reader.rest() if b.is_event][:total]

    everything = list(range(1, total + 1))
    assert cursors({"follow": "false", "cursor": "2"})[: total - 2] == everything[2:]
    assert cursors({"follow": "false", "cursor": ""}) == everything  # empty: from the start
    assert cursors({"follow": "false", "cursor": str(2**63 - 1)}) == []
    # `cursor` wins over Last-Event-ID, which is used alone otherwise (or with an empty one).
    assert cursors({"follow": "false", "cursor": "1"}, {"Last-Event-ID": "3"})[0] == 2
    assert cursors({"follow": "false"}, {"Last-Event-ID": "3"})[0] == 4
    assert cursors({"follow": "false", "cursor": ""}, {"Last-Event-ID": "3"})[0] == 4
    assert cursors({"follow": "false"}, {"Last-Event-ID": ""}) == everything


def test_a_cursor_that_is_not_an_event_cursor_is_a_400_before_any_stream(
    shared_server: LiveServer, shared_api: httpx.Client
) -> None:
    session_id = new_session(shared_api)["id"]
    bad = ["soon", "-3", "1.5", " 7", "\u0667", str(2**63), "9" * 64]
    for params, headers in [
        *[({"cursor": value}, {}) for value in bad],
        # Header values are ASCII, and their surrounding spaces are not part of them.
        *[({}, {"Last-Event-ID": v}) for v in bad if v.isascii() and v.strip() == v],
        ({"cursor": "x"}, {"Last-Event-ID": "3"}),  # the query parameter wins, even a bad one
    ]:
        with stream(shared_server.url, session_id, params=params, headers=headers) as reader:
            assert reader.status == 400, (params, headers, reader.body)
            assert reader.headers["content-type"].startswith("application/json")
            error = reader.json()["error"]
            assert error["code"] == "invalid_cursor", error
    # As for the message listing.
    listed = shared_api.get(f"/api/v1/sessions/{session_id}/messages", params={"cursor": "soon"})
    assert listed.status_code == 400 and listed.json()["error"]["code"] == "invalid_cursor"


def test_run_filter_forwards_one_run_only(
    shared_server: LiveServer, shared_api: httpx.Client
) -> None:
    session_id = new_session(shared_api)["id"]
    first = send(shared_api, session_id)["runId"]
    send(shared_api, session_id)
    of_first = [
        e["cursor"]
        for e in stored_events(shared_server.settings.data_dir, session_id)
        if e["runId"] == first
    ]

    params = {"follow": "false", "runId": first}
    with stream(shared_server.url, session_id, params=params) as reader:
        frames = [b for b in reader.rest() if b.is_event]
    assert {f.data["runId"] for f in frames} == {first}
    assert [f.cursor for f in frames][: len(of_first)] == of_first


def test_an_idle_stream_gets_comment_pings(start_server: Callable[..., Any]) -> None:
    live = start_server(sse_ping_seconds=0.05)
    with live.client() as api:
        session_id = new_session(api)["id"]
    with stream(live.url, session_id) as reader:
        blocks = [reader.next_block() for _ in range(3)]
    assert [b.raw for b in blocks if b is not None] == [": connected", ": ping", ": ping"]


def test_a_disconnect_frees_the_subscription_at_once(
    shared_server: LiveServer, shared_api: httpx.Client
) -> None:
    session_id = new_session(shared_api)["id"]
    bus = shared_server.core.event_bus
    reader = stream(shared_server.url, session_id)
    reader.next_block()
    wait_for(lambda: bus.subscriber_count(session_id) == 1, what="the stream to subscribe")
    reader.close()
    wait_for(lambda: bus.subscriber_count(session_id) == 0, what="the subscription to go")
