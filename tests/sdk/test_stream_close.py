"""A run stream holds a connection only while it is wanted: closing it, leaving its `with`
block or breaking out of a loop over it ends the server's side of the stream (the session's
event-stream reader is gone), and a closed stream iterated again continues where it stopped.

The server's reader count is read behind the HTTP layer (`LiveServer.core`): it is what an
abandoned connection would hold."""

from __future__ import annotations

from collections.abc import Callable

from sdk_support import script, stored_events

from corral.testing.live_server import LiveServer
from corral.testing.scripted_turns import gated
from corral.testing.waiting import wait_for, wait_for_async
from corral_sdk import AsyncSession, Corral, Session
from corral_sdk.events import RunCompleted, ToolStarted


def readers(server: LiveServer, session_id: str) -> Callable[[], int]:
    return lambda: server.core.event_bus.subscriber_count(session_id)


def test_close_ends_the_stream_on_the_server(
    shared_server: LiveServer, corral: Corral, session: Session
) -> None:
    count = readers(shared_server, session.id)
    stream = session.stream("wait", metadata=script(gated("gate")))
    events = iter(stream)
    seen = [next(events)]
    assert count() == 1  # the server subscribes its reader before it sends the first event
    stream.close()
    wait_for(lambda: count() == 0, what="the server to see the closed stream end")
    assert list(events) == []  # the loop that was open has ended

    # Iterated again, the stream reconnects after the last event seen.
    corral.workspaces.get(session.workspace_id).sandbox.write("gate", "")
    seen += list(stream)
    assert isinstance(seen[-1], RunCompleted)
    stored = [
        e
        for e in stored_events(shared_server.settings.data_dir, session.id)
        if e["runId"] == stream.run_id
    ]
    assert [(e.cursor, e.event) for e in seen] == [(e["cursor"], e["event"]) for e in stored]


def test_leaving_the_with_block_ends_the_stream(
    shared_server: LiveServer, session: Session
) -> None:
    count = readers(shared_server, session.id)
    with session.stream("wait", metadata=script(gated("never"))) as stream:
        events = iter(stream)  # kept: only leaving the block can close its connection
        for event in events:
            if isinstance(event, ToolStarted):
                break
        assert count() == 1
    wait_for(lambda: count() == 0, what="the server to see the stream end")
    stream.cancel()


def test_breaking_out_of_the_loop_ends_the_stream(
    shared_server: LiveServer, session: Session
) -> None:
    count = readers(shared_server, session.id)
    stream = session.stream("wait", metadata=script(gated("never")))
    for event in stream:  # the existing usage, no `with`
        if isinstance(event, ToolStarted):
            assert count() == 1
            break
    wait_for(lambda: count() == 0, what="the server to see the stream end")
    stream.cancel()
    assert stream.result().status == "cancelled"


async def test_aclose_and_async_with_end_the_stream(
    shared_server: LiveServer, asession: AsyncSession
) -> None:
    count = readers(shared_server, asession.id)
    stream = asession.stream("wait", metadata=script(gated("never")))
    events = aiter(stream)
    await anext(events)
    assert count() == 1
    await stream.aclose()
    await wait_for_async(lambda: count() == 0, what="the server to see the closed stream end")
    assert [event async for event in events] == []

    async with stream:
        kept = aiter(stream)  # kept: only leaving the block can close its connection
        await anext(kept)
        assert count() == 1
    await wait_for_async(lambda: count() == 0, what="the server to see the stream end")
    await stream.cancel()


async def test_breaking_out_of_an_async_loop_ends_the_stream(
    shared_server: LiveServer, asession: AsyncSession
) -> None:
    count = readers(shared_server, asession.id)
    stream = asession.stream("wait", metadata=script(gated("never")))
    async for event in stream:
        if isinstance(event, ToolStarted):
            assert count() == 1
            break
    await wait_for_async(lambda: count() == 0, what="the server to see the stream end")
    await stream.cancel()
    assert (await stream.result()).status == "cancelled"
