"""SubAgent end to end over HTTP: a child session and run of the subagent, executed while the
parent's tool call waits, its answer the call's result; failures, cancellation and nesting.

Subagents answer from scripts of their own: platform models (models_dir) whose options carry
the script, since a child's message is written by the engine, not by the test.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from runs_support import (
    create_session,
    create_workspace,
    events_of,
    get_run,
    messages,
    part_types,
    send,
    steps,
    text_of,
    tool_results,
    write_file,
)

from corral.testing.waiting import wait_for, wait_for_run

MODELS = """\
helper:
  provider: scripted
  options:
    script:
      - toolCalls: [{name: LS, input: {}}]
      - Found the files.
slow:
  provider: scripted
  options:
    script: [{text: working on it, chunkDelayMs: 60000}]  # a word, then a long pause
broken:
  provider: scripted
  options:
    script: [{error: {message: the helper model is down, retryable: false}}]
nester:
  provider: scripted
  options:
    script:
      - toolCalls: [{name: SubAgent, input: {agent: nester, prompt: deeper}}]
      - done at this level
"""
AGENTS = {
    ".corral/agents/lead.md": "---\nmode: primary\ntools: [SubAgent]\n---\nYou lead.\n",
    ".corral/agents/helper.md": "---\nmode: subagent\ndescription: Lists files.\n"
    "model: platform/helper\ntools: [LS]\n---\nYou help.\n",
    ".corral/agents/slowpoke.md": "---\nmode: subagent\nmodel: platform/slow\n---\nSlow.\n",
    ".corral/agents/fragile.md": "---\nmode: subagent\nmodel: platform/broken\n---\nFails.\n",
    ".corral/agents/nester.md": "---\nmode: all\nmodel: platform/nester\ntools: [SubAgent]\n"
    "---\nNests.\n",
}


def delegate(agent: str, prompt: str = "List the files", **extra: Any) -> dict[str, Any]:
    return {"name": "SubAgent", "input": {"agent": agent, "prompt": prompt, **extra}}


@pytest.fixture
def server(runner: Callable[..., Any], tmp_path: Path) -> Any:
    models = tmp_path / "models"
    models.mkdir()
    (models / "subagents.yaml").write_text(MODELS)
    # One slot: a parent holding it must not wait for another to run its child.
    return runner(models_dir=models, run_concurrency=1)


def lead_session(api: httpx.Client) -> dict[str, Any]:
    ws = create_workspace(api)
    for path, text in AGENTS.items():
        write_file(api, ws["id"], path, text)
    return create_session(api, ws["id"], agentName="lead")


def children(api: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    resp = api.get(f"/api/v1/sessions/{session_id}/children")
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def runs_of(api: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    resp = api.get(f"/api/v1/sessions/{session_id}/runs")
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def test_a_subagent_answers_in_a_child_session_while_the_parent_waits(
    server: Any, api: httpx.Client
) -> None:
    ses = lead_session(api)
    script = [
        {"text": "Asking the helper.", "toolCalls": [delegate("helper", description="list files")]},
        "The helper found the files.",
    ]
    run = wait_for_run(api, send(api, ses["id"], "what is here?", script=script)["runId"])
    assert run["status"] == "completed", run

    (child,) = children(api, ses["id"])
    assert child["parentSessionId"] == ses["id"] and child["title"] == "list files"
    assert (child["agentName"], child["activeAgentName"]) == ("helper", "helper")
    (child_run,) = runs_of(api, child["id"])
    assert child_run["status"] == "completed" and child_run["parentRunId"] == run["id"]
    assert child_run["agentName"] == child_run["effectiveAgentName"] == "helper"
    times = [
        datetime.fromisoformat(r[k])
        for r, k in (
            (run, "startedAt"),
            (child_run, "startedAt"),
            (child_run, "endedAt"),
            (run, "endedAt"),
        )
    ]
    assert times == sorted(times)  # the parent waited for its child
    child_msgs = messages(api, child["id"])
    assert [(m["role"], part_types(m)) for m in child_msgs] == [
        ("user", ["text"]),
        ("assistant", ["tool-call"]),
        ("tool", ["tool-result"]),
        ("assistant", ["text"]),
    ]
    assert text_of(child_msgs[0]) == "List the files" and child_msgs[0]["origin"] == "engine"
    assert child_msgs[0]["metadata"]["delegatedBy"]["runId"] == run["id"]

    (result,) = tool_results(api, ses["id"])
    assert result == {"type": "text", "value": "Found the files."}
    assert text_of(messages(api, ses["id"])[-1]) == "The helper found the files."
    # the child's own session is untouched by the parent's run
    assert [
        s["id"]
        for s in api.get(f"/api/v1/workspaces/{child['workspaceId']}/sessions").json()["items"]
    ] == [ses["id"]]

    events = events_of(server, ses["id"], run["id"])
    names = [n for n, _ in events]
    call_id = next(d["toolCallId"] for n, d in events if n == "tool.started")
    delegated = [(n, d) for n, d in events if n.startswith("agent.")]
    assert delegated == [
        (
            "agent.delegate.started",
            {
                "runId": run["id"],
                "sessionId": ses["id"],
                "agentName": "lead",
                "targetAgent": "helper",
                "childSessionId": child["id"],
                "childRunId": child_run["id"],
                "toolUseId": call_id,
            },
        ),
        (
            "agent.delegate.completed",
            {
                "runId": run["id"],
                "sessionId": ses["id"],
                "agentName": "lead",
                "targetAgent": "helper",
                "childRunId": child_run["id"],
                "childStatus": "completed",
                "output": "Found the files.",
            },
        ),
    ]
    assert (
        names.index("tool.started")
        < names.index("agent.delegate.started")
        < names.index("agent.delegate.completed")
        < names.index("tool.completed")
    )
    assert {d["sourceType"] for n, d in events if n.startswith("tool.")} == {"agent"}
    assert [
        n for n, _ in events_of(server, child["id"], child_run["id"]) if n.startswith("run.")
    ] == ["run.queued", "run.started", "run.completed"]

    delegate_step = next(s for s in steps(api, run["id"]) if s["stepType"] == "agent_delegate")
    assert (delegate_step["name"], delegate_step["agentName"], delegate_step["status"]) == (
        "helper",
        "lead",
        "completed",
    )
    assert delegate_step["input"] == {"toolCallId": call_id, "prompt": "List the files"}
    assert delegate_step["output"] == {"childStatus": "completed", "output": "Found the files."}


def test_a_delegation_the_workspace_cannot_make_is_an_error_result(
    server: Any, api: httpx.Client
) -> None:
    ses = lead_session(api)
    script = [{"toolCalls": [delegate("nobody"), delegate("lead")]}, "I will do it myself."]
    run = wait_for_run(api, send(api, ses["id"], "delegate", script=script)["runId"])

    assert run["status"] == "completed", run
    events = events_of(server, ses["id"], run["id"])
    failures = [(d["errorCode"], d["errorMessage"]) for n, d in events if n == "tool.failed"]
    assert [code for code, _ in failures] == ["agent_not_found", "invalid_subagent_target"]
    assert "subagents: fragile, helper, nester, reviewer, slowpoke" in failures[0][1]
    assert not [n for n, _ in events if n.startswith("agent.")]
    assert children(api, ses["id"]) == []
    assert text_of(messages(api, ses["id"])[-1]) == "I will do it myself."


def test_a_failed_subagent_run_is_an_error_result_for_the_parent(
    server: Any, api: httpx.Client
) -> None:
    ses = lead_session(api)
    run = wait_for_run(
        api,
        send(
            api, ses["id"], "delegate", script=[{"toolCalls": [delegate("fragile")]}, "It failed."]
        )["runId"],
    )

    assert run["status"] == "completed", run
    (child,) = children(api, ses["id"])
    (child_run,) = runs_of(api, child["id"])
    assert child_run["status"] == "failed" and child_run["errorCode"] == "model_stream_failed"
    (failed,) = [
        d for n, d in events_of(server, ses["id"], run["id"]) if n == "agent.delegate.failed"
    ]
    assert failed == {
        "runId": run["id"],
        "sessionId": ses["id"],
        "agentName": "lead",
        "targetAgent": "fragile",
        "childRunId": child_run["id"],
        "childStatus": "failed",
        "errorCode": "model_stream_failed",
        "errorMessage": child_run["errorMessage"],
    }
    (result,) = tool_results(api, ses["id"])
    assert result["type"] == "error-text" and "the helper model is down" in result["value"]
    delegate_step = next(s for s in steps(api, run["id"]) if s["stepType"] == "agent_delegate")
    assert delegate_step["status"] == "failed"
    # only its parent's call executes a child run: nothing would wait for a requeued one
    requeue = api.post(f"/api/v1/runs/{child_run['id']}/requeue")
    assert requeue.status_code == 409, requeue.text
    assert requeue.json()["error"]["code"] == "run_requeue_not_supported"


def test_cancelling_the_parent_cancels_the_running_child(server: Any, api: httpx.Client) -> None:
    ses = lead_session(api)
    run_id = send(
        api, ses["id"], "delegate", script=[{"toolCalls": [delegate("slowpoke")]}, "never"]
    )["runId"]
    child = wait_for(
        lambda: (found := children(api, ses["id"])) and found[0], what="the child session"
    )
    wait_for(lambda: len(messages(api, child["id"])) == 2, what="the child's first word")
    (child_run,) = runs_of(api, child["id"])

    assert api.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
    assert wait_for_run(api, run_id)["status"] == "cancelled"
    ended_child = get_run(api, child_run["id"])  # ended before its parent
    assert ended_child["status"] == "cancelled", ended_child
    model_call = next(s for s in steps(api, child_run["id"]) if s["stepType"] == "model_call")
    assert model_call["status"] == "cancelled"
    assert text_of(messages(api, child["id"])[-1]) == "working "  # stopped mid-stream

    events = events_of(server, ses["id"], run_id)
    (failed,) = [d for n, d in events if n == "agent.delegate.failed"]
    assert (failed["childStatus"], failed["errorCode"]) == ("cancelled", "subagent_cancelled")
    (tool_failed,) = [d for n, d in events if n == "tool.failed"]
    assert tool_failed["errorCode"] == "tool_cancelled" and tool_failed["sourceType"] == "agent"
    delegate_step = next(s for s in steps(api, run_id) if s["stepType"] == "agent_delegate")
    assert delegate_step["status"] == "cancelled"
    # the session is free again: its next run starts and completes
    assert (
        wait_for_run(api, send(api, ses["id"], "next", script=["ok"])["runId"])["status"]
        == "completed"
    )


def test_cancelling_only_the_child_gives_the_parent_an_error_result(
    server: Any, api: httpx.Client
) -> None:
    ses = lead_session(api)
    run_id = send(
        api,
        ses["id"],
        "delegate",
        script=[{"toolCalls": [delegate("slowpoke")]}, "It was stopped."],
    )["runId"]
    child = wait_for(
        lambda: (found := children(api, ses["id"])) and found[0], what="the child session"
    )
    (child_run,) = runs_of(api, child["id"])

    assert api.post(f"/api/v1/runs/{child_run['id']}/cancel").status_code == 202
    assert wait_for_run(api, child_run["id"])["status"] == "cancelled"
    assert wait_for_run(api, run_id)["status"] == "completed"
    (result,) = tool_results(api, ses["id"])
    assert result["type"] == "error-text" and "its run was cancelled" in result["value"]
    assert text_of(messages(api, ses["id"])[-1]) == "It was stopped."


def test_delegation_nests_to_a_bounded_depth(server: Any, api: httpx.Client) -> None:
    ses = lead_session(api)
    run = wait_for_run(
        api,
        send(
            api,
            ses["id"],
            "nest",
            script=[{"toolCalls": [delegate("nester", "go deep")]}, "Back at the top."],
        )["runId"],
    )
    assert run["status"] == "completed", run

    chain, session_id = [], ses["id"]
    while found := children(api, session_id):
        (child,) = found
        (child_run,) = runs_of(api, child["id"])
        chain.append(child_run)
        session_id = child["id"]
    assert len(chain) == 3 and [r["status"] for r in chain] == ["completed"] * 3
    assert [r["parentRunId"] for r in chain] == [run["id"], chain[0]["id"], chain[1]["id"]]
    offered = [
        [s["input"]["tools"] for s in steps(api, r["id"]) if s["stepType"] == "model_call"]
        for r in chain
    ]
    assert offered[1][0] == ["SubAgent"] and offered[2][0] == []  # the deepest may not nest
    deepest = [d for n, d in events_of(server, session_id, chain[2]["id"]) if n == "tool.failed"]
    assert [d["errorCode"] for d in deepest] == ["unknown_tool"]
    assert tool_results(api, ses["id"])[0]["value"] == "done at this level"
