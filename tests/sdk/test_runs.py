"""Sending messages with the sync SDK: waiting for the run, streaming its typed events, results,
failures, interrupting and cancelling."""

from __future__ import annotations

from typing import Any

import pytest
from sdk_support import WRITE_READ_ANSWER, script, stored_events

from corral.testing.live_server import LiveServer
from corral.testing.scripted_turns import gated
from corral_client.models import RunStatus
from corral_sdk import Corral, RunError, RunResult, Session, Usage
from corral_sdk.events import (
    MessageCompleted,
    MessageDelta,
    RunCompleted,
    RunFailed,
    RunQueued,
    RunStarted,
    ToolCompleted,
    ToolFailed,
    ToolStarted,
)


def test_send_waits_for_the_run_and_reports_its_text_usage_and_tools(
    corral: Corral, session: Session
) -> None:
    result = session.send("Note this down", metadata=script(WRITE_READ_ANSWER))
    assert isinstance(result, RunResult)
    assert result.ok and result.run.status is RunStatus.COMPLETED
    assert result.text == "All done."
    assert result.tool_calls == 2
    stored = corral.runs.get(result.run_id)
    assert stored.status is RunStatus.COMPLETED
    assert result.usage == Usage.of_run(stored)
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    workspace = corral.workspaces.get(session.workspace_id)
    assert workspace.sandbox.read("notes.txt") == "hi\n"
    assert result.raise_for_status() is result


def test_stream_yields_the_runs_typed_events_as_stored_and_ends_with_it(
    shared_server: LiveServer, session: Session
) -> None:
    stream = session.stream("Note this down", metadata=script(WRITE_READ_ANSWER))
    events = list(stream)
    stored = [
        e
        for e in stored_events(shared_server.settings.data_dir, session.id)
        if e["runId"] == stream.run_id
    ]
    assert [(e.cursor, e.event) for e in events] == [(e["cursor"], e["event"]) for e in stored]
    assert isinstance(events[0], RunQueued) and isinstance(events[1], RunStarted)
    assert isinstance(events[-1], RunCompleted) and events[-1].run_id == stream.run_id
    assert all(e.run_id == stream.run_id for e in events)

    deltas = [e for e in events if isinstance(e, MessageDelta)]
    assert "".join(d.delta or "" for d in deltas).startswith("Writing it.")
    started = [e for e in events if isinstance(e, ToolStarted)]
    assert [(t.tool_name, t.input) for t in started] == [
        ("Write", {"file_path": "notes.txt", "content": "hi\n"}),
        ("Read", {"file_path": "notes.txt"}),
    ]
    completed = [e for e in events if isinstance(e, ToolCompleted)]
    assert [c.tool_call_id for c in completed] == [s.tool_call_id for s in started]
    results = [e for e in events if isinstance(e, MessageCompleted) and e.tool_name]
    assert [r.tool_name for r in results] == ["Write", "Read"]
    final = [e for e in events if isinstance(e, MessageCompleted) and e.finish_reason]
    assert final[-1].text == "All done."

    result = stream.result()  # the stream has ended: no more events to read
    assert result.text == "All done." and result.tool_calls == 2 and result.ok


def test_a_failed_run_is_reported_and_raise_for_status_raises(session: Session) -> None:
    failing = script([{"error": {"message": "the model is overloaded", "retryable": False}}])
    events = list(session.stream("hello", metadata=failing))
    assert isinstance(events[-1], RunFailed)
    assert events[-1].status == "failed" and events[-1].error_code

    result = session.send("hello again", metadata=failing)
    assert not result.ok and result.status == "failed"
    with pytest.raises(RunError) as raised:
        result.raise_for_status()
    assert raised.value.code == events[-1].error_code
    assert raised.value.details == {"runId": result.run_id, "status": "failed"}


def test_a_failing_tool_is_a_typed_event_and_the_run_goes_on(session: Session) -> None:
    turns = [{"toolCalls": [{"name": "NoSuchTool", "input": {}}]}, "Recovered."]
    stream = session.stream("try it", metadata=script(turns))
    failed = [e for e in stream if isinstance(e, ToolFailed)]
    assert [(f.tool_name, f.error_code) for f in failed] == [("NoSuchTool", "unknown_tool")]
    result = stream.result()
    assert result.ok and result.text == "Recovered." and result.tool_calls == 1


def test_interrupt_cancels_the_executing_run_and_runs_at_once(
    corral: Corral, session: Session
) -> None:
    blocked = session.stream("wait", metadata=script(gated("never")))
    for event in blocked:
        if isinstance(event, ToolStarted):
            break  # the first run now waits in its tool

    result = session.interrupt("now this", metadata=script(["Interrupted you."]))
    assert result.ok and result.text == "Interrupted you."
    first = blocked.result()  # the same stream, continued to the first run's end
    assert first.status == "cancelled" and first.run_id == blocked.run_id
    assert corral.runs.wait(first.run_id).status == "cancelled"


def test_cancel_stops_the_active_run_and_the_queued_ones(corral: Corral, session: Session) -> None:
    active = session.stream("wait", metadata=script(gated("never")))
    for event in active:
        if isinstance(event, ToolStarted):
            break
    queued = session.submit("after it")
    assert queued.delivery.value == "session_queue"
    assert [q.run_id for q in session.queue()] == [queued.run_id]

    cancelled = session.cancel()
    assert set(cancelled) == {active.run_id, queued.run_id}
    assert active.result().status == "cancelled"
    assert corral.runs.wait(queued.run_id).status == "cancelled"
    assert session.queue() == []


def test_a_run_can_be_cancelled_from_its_stream(session: Session) -> None:
    stream = session.stream("wait", metadata=script(gated("never")))
    for event in stream:
        if isinstance(event, ToolStarted):
            stream.cancel()
    assert stream.result().status == "cancelled"


def test_watch_and_wait_follow_an_existing_run(corral: Corral, session: Session) -> None:
    accepted = session.submit("hello", metadata=script(["Hi."]))
    replayed = list(corral.runs.watch(accepted.run_id))
    assert isinstance(replayed[0], RunQueued) and isinstance(replayed[-1], RunCompleted)
    result = corral.runs.wait(accepted.run_id)
    assert result.text == "Hi." and result.ok
    steps = list(corral.runs.steps(accepted.run_id))
    assert steps[0].seq == 1 and any(s.step_type.value == "model_call" for s in steps)


def test_an_action_run_reports_its_output(corral: Corral, session: Session) -> None:
    workspace = corral.workspaces.get(session.workspace_id)
    result = workspace.actions.run("list-files", {}, session_id=session.id)
    assert result.ok and result.tool_calls == 1
    assert "AGENTS.md" in result.output["stdout"]
    assert result.run.session_id == session.id


def test_messages_and_runs_are_listed_page_by_page(session: Session) -> None:
    answers: list[Any] = []
    for word in ("one", "two", "three"):
        answers.append(session.send(word, metadata=script([f"Got {word}."])))
    texts = []
    for message in session.messages(page_size=2):
        content = message.content
        texts.append(content if isinstance(content, str) else content[0].text)  # type: ignore[union-attr]
    assert texts == ["one", "Got one.", "two", "Got two.", "three", "Got three."]
    newest = [m.id for m in session.messages(newest_first=True, page_size=4)]
    assert newest == [m.id for m in session.messages()][::-1]
    runs = list(session.runs.list(page_size=2))
    assert [r.id for r in runs] == [a.run_id for a in reversed(answers)]
    assert session.runs.get(runs[0].id).id == runs[0].id


def test_session_events_replay_a_snapshot_and_resume_after_a_cursor(session: Session) -> None:
    session.send("hello", metadata=script(["Hi."]))
    everything = list(session.events(follow=False))
    assert [e.cursor for e in everything] == list(range(1, len(everything) + 1))
    rest = list(session.events(after=everything[2].cursor, follow=False))
    assert rest == everything[3:]
