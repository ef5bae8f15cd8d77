"""The asyncio SDK against a live server: the same paths as the sync tests, through
`AsyncCorral` (send, stream, results, errors, listings, files streamed both ways)."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sdk_support import WRITE_READ_ANSWER, script, stored_events

from corral.testing.live_server import LiveServer
from corral.testing.scripted_turns import gated
from corral_sdk import AsyncCorral, AsyncSession, RunError, SessionNotFound
from corral_sdk.events import (
    MessageCompleted,
    RunCompleted,
    RunQueued,
    ToolStarted,
)


async def test_send_waits_and_reports_the_run(acorral: AsyncCorral, asession: AsyncSession) -> None:
    result = await asession.send("Note this down", metadata=script(WRITE_READ_ANSWER))
    assert result.ok and result.text == "All done." and result.tool_calls == 2
    assert result.usage.input_tokens > 0
    assert (await acorral.runs.get(result.run_id)).status.value == "completed"


async def test_stream_yields_typed_events_as_stored(
    shared_server: LiveServer, asession: AsyncSession
) -> None:
    stream = asession.stream("Note this down", metadata=script(WRITE_READ_ANSWER))
    events = [event async for event in stream]
    stored = [
        e
        for e in stored_events(shared_server.settings.data_dir, asession.id)
        if e["runId"] == stream.run_id
    ]
    assert [(e.cursor, e.event) for e in events] == [(e["cursor"], e["event"]) for e in stored]
    assert isinstance(events[0], RunQueued) and isinstance(events[-1], RunCompleted)
    assert [e.tool_name for e in events if isinstance(e, ToolStarted)] == ["Write", "Read"]
    finals = [e.text for e in events if isinstance(e, MessageCompleted) and e.finish_reason]
    assert finals == ["All done."]
    assert (await stream.result()).text == "All done."


async def test_failures_and_errors(acorral: AsyncCorral, asession: AsyncSession) -> None:
    failing = script([{"error": {"message": "no", "retryable": False}}])
    result = await asession.send("hello", metadata=failing)
    with pytest.raises(RunError):
        result.raise_for_status()
    with pytest.raises(SessionNotFound):
        await acorral.sessions.get("ses_" + "0" * 32)


async def test_interrupt_and_cancel(acorral: AsyncCorral, asession: AsyncSession) -> None:
    blocked = asession.stream("wait", metadata=script(gated("never")))
    async for event in blocked:
        if isinstance(event, ToolStarted):
            break
    answer = await asession.interrupt("now", metadata=script(["Now."]))
    assert answer.text == "Now."
    assert (await blocked.result()).status == "cancelled"

    again = asession.stream("wait", metadata=script(gated("never")))
    async for event in again:
        if isinstance(event, ToolStarted):
            break
    assert await asession.cancel() == [again.run_id]
    assert (await acorral.runs.wait(str(again.run_id))).status == "cancelled"


async def test_listings_page_through(acorral: AsyncCorral, asession: AsyncSession) -> None:
    for word in ("one", "two"):
        await asession.send(word, metadata=script([f"Got {word}."]))
    roles = [m.role.value async for m in asession.messages(page_size=1)]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert len([r async for r in asession.runs.list(page_size=1)]) == 2
    workspace_ids = [w.id async for w in acorral.workspaces.list(page_size=1)]
    assert asession.workspace_id in workspace_ids
    workspace = await acorral.workspaces.get(asession.workspace_id)
    assert asession.id in [s.id async for s in workspace.sessions.list()]
    events = [e async for e in asession.events(follow=False)]
    assert [e.cursor for e in events] == list(range(1, len(events) + 1))


async def test_files_stream_both_ways(acorral: AsyncCorral, tmp_path: Path) -> None:
    sandbox = (await acorral.workspaces.create(name="async-files")).sandbox
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(2 * 1024 * 1024 + 5))
    assert (await sandbox.upload("big.bin", source)).size_bytes == source.stat().st_size
    target = tmp_path / "copy.bin"
    assert await sandbox.download("big.bin", target) == source.stat().st_size
    assert target.read_bytes() == source.read_bytes()

    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"async ", b"chunks"):
            await asyncio.sleep(0)
            yield part

    await sandbox.upload("a.txt", chunks())
    await sandbox.upload("b.txt", [b"sync ", b"chunks"])
    await sandbox.upload("c.txt", io.BytesIO(b"file object"))
    assert [await sandbox.read(p) for p in ("a.txt", "b.txt", "c.txt")] == [
        "async chunks",
        "sync chunks",
        "file object",
    ]
    await sandbox.write("w.txt", "written")
    assert (await sandbox.run("cat w.txt")).stdout == "written"
    assert "w.txt" in [e.name async for e in sandbox.list()]
