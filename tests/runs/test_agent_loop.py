"""The agent loop end to end over HTTP, with the built-in scripted model: transcript shapes,
tools, steps, events, usage, failures."""

from __future__ import annotations

from typing import Any

import httpx
from runs_support import (
    create_session,
    create_workspace,
    messages,
    part_types,
    read_file,
    send,
    server_events,
    steps,
    text_of,
    write_file,
)

from corral.testing.scripted_turns import wait_for_file
from corral.testing.waiting import wait_for, wait_for_run


def test_a_message_is_answered_by_the_default_scripted_model(api: httpx.Client) -> None:
    ws = create_workspace(api)
    ses = create_session(api, ws["id"])
    sent = send(api, ses["id"], "What is in this workspace?")
    run = wait_for_run(api, sent["runId"])
    assert run["status"] == "completed", run
    assert run["startedAt"] and run["endedAt"] and run["heartbeatAt"]
    msgs = messages(api, ses["id"])
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    assert "What is in this workspace?" in text_of(msgs[1])
    assert msgs[1]["runId"] == run["id"]
    kinds = [(s["stepType"], s["name"]) for s in steps(api, run["id"])]
    assert kinds[0] == ("system", "run.started") and kinds[-1] == ("system", "run.completed")
    assert [k for k in kinds if k[0] == "model_call"], kinds
    seqs = [s["seq"] for s in steps(api, run["id"])]
    assert seqs == sorted(seqs) and seqs[0] == 1
    usage = run["metadata"]["usage"]
    assert usage["inputTokens"] > 0 and usage["outputTokens"] > 0


def test_tool_calls_run_in_the_workspace_and_feed_back(api: httpx.Client) -> None:
    ws = create_workspace(api)
    ses = create_session(api, ws["id"])
    script = [
        {
            "text": "Writing it.",
            "toolCalls": [
                {
                    "name": "Write",
                    "input": {"file_path": "notes/hello.txt", "content": "hi there\n"},
                }
            ],
        },
        {"toolCalls": [{"name": "Read", "input": {"file_path": "notes/hello.txt"}}]},
        "All done.",
    ]
    run = wait_for_run(api, send(api, ses["id"], "write a file", script=script)["runId"])
    assert run["status"] == "completed", run
    assert read_file(api, ws["id"], "notes/hello.txt") == "hi there\n"
    msgs = messages(api, ses["id"])
    shapes = [(m["role"], part_types(m)) for m in msgs]
    assert shapes == [
        ("user", ["text"]),
        ("assistant", ["text"]),
        ("assistant", ["tool-call"]),
        ("tool", ["tool-result"]),
        ("assistant", ["tool-call"]),
        ("tool", ["tool-result"]),
        ("assistant", ["text"]),
    ], shapes
    read_result = msgs[5]["content"][0]
    assert read_result["toolName"] == "Read"
    assert read_result["toolCallId"] == msgs[4]["content"][0]["toolCallId"]
    assert "hi there" in str(read_result["output"]["value"])
    assert text_of(msgs[-1]) == "All done."
    created = [m["createdAt"] for m in msgs]
    assert created == sorted(created)
    kinds = [s["stepType"] for s in steps(api, run["id"])]
    assert kinds.count("model_call") == 3 and kinds.count("tool_call") == 2


def _meet(mine: str, theirs: str) -> str:
    """A command that leaves its marker and waits (10 s at most) for the other's."""
    return (
        f"touch {mine}; for i in $(seq 100); do [ -e {theirs} ] && exit 0; sleep 0.1; done; exit 1"
    )


def test_several_tool_calls_of_one_turn_run_in_parallel(api: httpx.Client) -> None:
    ws = create_workspace(api)
    ses = create_session(api, ws["id"])
    # Each command waits for the other's marker: they can only both finish if they overlap.
    script = [
        {
            "toolCalls": [
                {"name": "Bash", "input": {"command": _meet("a", "b")}},
                {"name": "Bash", "input": {"command": _meet("b", "a")}},
            ]
        },
        "both ran",
    ]
    run = wait_for_run(api, send(api, ses["id"], "go", script=script)["runId"])
    assert run["status"] == "completed", run
    tool_steps = [s for s in steps(api, run["id"]) if s["stepType"] == "tool_call"]
    assert [s["status"] for s in tool_steps] == ["completed", "completed"], tool_steps
    assert all(s["output"]["exitCode"] == 0 for s in tool_steps), tool_steps


def test_a_failing_or_unknown_tool_is_an_error_result_not_a_failed_run(api: httpx.Client) -> None:
    ws = create_workspace(api)
    ses = create_session(api, ws["id"])
    script = [
        {
            "toolCalls": [
                {"name": "Read", "input": {"file_path": "../../etc/passwd"}},
                {"name": "Teleport", "input": {}},
                {"name": "Read", "input": {"nope": 1}},
            ]
        },
        "recovered",
    ]
    run = wait_for_run(api, send(api, ses["id"], "try", script=script)["runId"])
    assert run["status"] == "completed", run
    results = [m["content"][0] for m in messages(api, ses["id"]) if m["role"] == "tool"]
    assert [r["output"]["type"] for r in results] == ["error-text"] * 3, results
    tool_steps = [s for s in steps(api, run["id"]) if s["stepType"] == "tool_call"]
    assert [s["status"] for s in tool_steps] == ["failed"] * 3


def test_a_model_failure_fails_the_run_with_the_providers_message(api: httpx.Client) -> None:
    ws = create_workspace(api)
    ses = create_session(api, ws["id"])
    script = [{"error": {"message": "the model is on fire"}}]
    run = wait_for_run(api, send(api, ses["id"], "hi", script=script)["runId"])
    assert run["status"] == "failed"
    assert run["errorCode"] == "model_stream_failed"
    assert "the model is on fire" in run["errorMessage"]


def test_max_steps_stops_the_loop(api: httpx.Client) -> None:
    ws = create_workspace(api)
    write_file(
        api,
        ws["id"],
        ".corral/agents/brief.md",
        "---\nname: brief\nmaxSteps: 2\n---\nYou are brief.\n",
    )
    ses = create_session(api, ws["id"], agentName="brief")
    loop = {"toolCalls": [{"name": "LS", "input": {}}]}
    run = wait_for_run(api, send(api, ses["id"], "loop", script=[loop, loop, loop, "end"])["runId"])
    assert run["status"] == "completed", run
    assert run["metadata"]["stopReason"] == "max_steps"
    model_calls = [s for s in steps(api, run["id"]) if s["stepType"] == "model_call"]
    assert len(model_calls) == 2


def test_events_announce_the_run_as_it_happens(server: Any, api: httpx.Client) -> None:
    ws = create_workspace(api)
    ses = create_session(api, ws["id"])
    script = [{"text": "Looking.", "toolCalls": [{"name": "LS", "input": {}}]}, "Found it."]
    run = wait_for_run(api, send(api, ses["id"], "look", script=script)["runId"])
    events = server_events(server, ses["id"])
    assert [e["cursor"] for e in events] == list(range(1, len(events) + 1))
    names = [e["event"] for e in events]
    assert names[0] == "run.queued" and names[1] == "run.started" and names[-1] == "run.completed"
    assert "message.delta" in names and "tool.started" in names and "tool.completed" in names
    assert names.index("tool.started") < names.index("tool.completed")
    deltas = "".join(e["data"].get("delta", "") for e in events if e["event"] == "message.delta")
    assert deltas == "Looking.Found it."
    completed = [e["data"] for e in events if e["event"] == "message.completed"]
    assert completed[-1]["finishReason"] == "stop"
    tool_done = next(e["data"] for e in events if e["event"] == "tool.completed")
    assert tool_done["toolName"] == "LS" and tool_done["sourceType"] == "native"
    assert tool_done["metadata"]["toolStatus"] == "completed"
    assert all(e["runId"] == run["id"] for e in events)


def test_an_agent_whose_model_does_not_exist_fails_the_run_with_its_reason(
    api: httpx.Client,
) -> None:
    ws = create_workspace(api)
    write_file(
        api,
        ws["id"],
        ".corral/agents/lost.md",
        "---\nname: lost\nmodel: platform/nowhere\n---\nYou are lost.\n",
    )
    ses = create_session(api, ws["id"], agentName="lost")
    run = wait_for_run(api, send(api, ses["id"], "hi")["runId"])
    assert run["status"] == "failed"
    assert run["errorCode"] == "model_not_found"
    assert run["errorMessage"] == "model 'platform/nowhere' not found"


def _tool_messages(api: httpx.Client, session_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(role, tool name) to the metadata of the session's tool-call and tool-result messages."""
    found = {}
    for msg in messages(api, session_id):
        part = msg["content"][0] if isinstance(msg["content"], list) else {}
        if part.get("type") in ("tool-call", "tool-result"):
            found[msg["role"], part["toolName"]] = msg.get("metadata")
    return found


def test_a_tool_calls_messages_say_whether_it_runs_or_has_ended(
    server: Any, api: httpx.Client
) -> None:
    ws = create_workspace(api)
    ses = create_session(api, ws["id"])
    calls = [
        {"name": "Bash", "input": {"command": wait_for_file("gate")}},
        {"name": "Teleport", "input": {}},
    ]
    run_id = send(api, ses["id"], "go", script=[{"toolCalls": calls}, "done"])["runId"]
    # The unknown tool fails at once; the gated command still runs.
    found = wait_for(lambda: (m := _tool_messages(api, ses["id"])).get(("tool", "Teleport")) and m)
    assert found["assistant", "Bash"] == {"toolStatus": "running", "toolSourceType": "native"}
    assert ("tool", "Bash") not in found
    for role in ("assistant", "tool"):
        failed = found[role, "Teleport"]
        assert failed["toolStatus"] == "failed" and failed["toolSourceType"] == "native"
        assert failed["toolDurationMs"] >= 0

    write_file(api, ws["id"], "gate", "")
    assert wait_for_run(api, run_id)["status"] == "completed"
    ended = _tool_messages(api, ses["id"])
    assert ended["assistant", "Bash"] == ended["tool", "Bash"]
    assert ended["assistant", "Bash"]["toolStatus"] == "completed"
    assert ended["assistant", "Bash"]["toolDurationMs"] >= 0

    # message.completed carries each state, the call's last one in the write of its result.
    events = [e for e in server_events(server, ses["id"]) if e["runId"] == run_id]
    (call_id,) = [e["data"]["toolCallId"] for e in events if e["event"] == "tool.completed"]
    announced = [
        (e["cursor"], e["data"]["metadata"]["toolStatus"])
        for e in events
        if e["event"] == "message.completed" and _calls(e["data"]["content"]) == [call_id]
    ]
    assert [status for _, status in announced] == ["running", "completed"]
    done = next(e["cursor"] for e in events if e["event"] == "tool.completed")
    assert announced[-1][0] == done + 1


def _calls(content: Any) -> list[str]:
    """The ids of the tool calls a message's content makes."""
    parts = content if isinstance(content, list) else []
    return [p["toolCallId"] for p in parts if p["type"] == "tool-call"]


def test_a_stopped_tool_calls_messages_say_it_failed(api: httpx.Client) -> None:
    ws = create_workspace(api)
    ses = create_session(api, ws["id"])
    script = [
        {"toolCalls": [{"name": "Bash", "input": {"command": wait_for_file("gate")}}]},
        "never",
    ]
    run_id = send(api, ses["id"], "go", script=script)["runId"]
    wait_for(lambda: ("assistant", "Bash") in _tool_messages(api, ses["id"]))
    assert api.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
    assert wait_for_run(api, run_id)["status"] == "cancelled"
    found = _tool_messages(api, ses["id"])
    assert found["assistant", "Bash"]["toolStatus"] == "failed"
    assert found["tool", "Bash"]["toolStatus"] == "failed"
