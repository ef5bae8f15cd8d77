"""AgentSwitch end to end over HTTP: the run goes on with the new agent's instructions, tools
and model, the run and its steps and events record the switch, and the session keeps the new
agent once the run completes."""

from __future__ import annotations

from collections.abc import Callable
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

from corral.testing.fake_openai import FakeOpenAI
from corral.testing.fake_provider import FakeReply, FakeToolCall
from corral.testing.waiting import wait_for_run

AGENTS = {
    ".corral/agents/planner.md": "---\nmode: primary\ntools: [LS, AgentSwitch]\n---\n"
    "You are the planner.\n",
    ".corral/agents/builder.md": "---\nmode: all\ntools: [Read, Write, AgentSwitch]\n---\n"
    "You are the builder.\n",
    ".corral/agents/unreachable.md": "---\nmodel: workspace/missing\n---\nNever runs.\n",
}


def switch(agent: str) -> dict[str, Any]:
    return {"name": "AgentSwitch", "input": {"agent": agent}}


def planner_session(api: httpx.Client) -> dict[str, Any]:
    ws = create_workspace(api)
    for path, text in AGENTS.items():
        write_file(api, ws["id"], path, text)
    return create_session(api, ws["id"], agentName="planner")


def test_a_switch_hands_the_rest_of_the_run_and_the_session_to_the_new_agent(
    server: Any, api: httpx.Client
) -> None:
    ses = planner_session(api)
    script = [{"text": "Handing over.", "toolCalls": [switch("builder")]}, "Builder here."]
    run = wait_for_run(api, send(api, ses["id"], "build it", script=script)["runId"])

    assert run["status"] == "completed", run
    assert (run["agentName"], run["effectiveAgentName"], run["switchCount"]) == (
        "planner",
        "builder",
        1,
    )
    kinds = [
        (s["stepType"], s["name"], s["agentName"])
        for s in steps(api, run["id"])
        if s["stepType"] != "system"
    ]
    model = kinds[0][1]
    assert kinds == [
        ("model_call", model, "planner"),
        ("tool_call", "AgentSwitch", "planner"),
        ("agent_switch", "builder", "planner"),
        ("model_call", model, "builder"),
    ]
    by_type = {s["stepType"]: s for s in steps(api, run["id"])}
    assert by_type["agent_switch"]["status"] == "completed"
    assert by_type["agent_switch"]["output"] == {"switchCount": 1}
    assert by_type["tool_call"]["input"]["sourceType"] == "agent"
    calls = [s for s in steps(api, run["id"]) if s["stepType"] == "model_call"]
    assert [c["input"]["tools"] for c in calls] == [
        ["LS", "AgentSwitch"],
        ["Read", "Write", "AgentSwitch"],
    ]

    events = events_of(server, ses["id"], run["id"])
    names = [name for name, _ in events]
    agent_events = [(n, d) for n, d in events if n.startswith("agent.")]
    assert agent_events == [
        (
            "agent.switch.requested",
            {
                "runId": run["id"],
                "sessionId": ses["id"],
                "fromAgent": "planner",
                "toAgent": "builder",
            },
        ),
        (
            "agent.switched",
            {
                "runId": run["id"],
                "sessionId": ses["id"],
                "fromAgent": "planner",
                "toAgent": "builder",
                "switchCount": 1,
            },
        ),
    ]
    assert (
        names.index("tool.started")
        < names.index("agent.switched")
        < names.index("tool.completed")
        < names.index("run.completed")
    )
    tool_events = [d for n, d in events if n.startswith("tool.")]
    assert {d["sourceType"] for d in tool_events} == {"agent"}

    msgs = messages(api, ses["id"])
    assert [(m["role"], part_types(m)) for m in msgs] == [
        ("user", ["text"]),
        ("assistant", ["text"]),
        ("assistant", ["tool-call"]),
        ("tool", ["tool-result"]),
        ("assistant", ["text"]),
    ]
    assert "builder answers from here on" in msgs[3]["content"][0]["output"]["value"]
    assert text_of(msgs[-1]) == "Builder here."

    session = api.get(f"/api/v1/sessions/{ses['id']}").json()
    assert (session["agentName"], session["activeAgentName"]) == ("planner", "builder")
    after = wait_for_run(api, send(api, ses["id"], "and now?", script=["Still me."])["runId"])
    assert (after["agentName"], after["effectiveAgentName"], after["switchCount"]) == (
        "builder",
        "builder",
        0,
    )


def test_a_switch_the_workspace_cannot_make_is_an_error_result_and_changes_nothing(
    server: Any, api: httpx.Client
) -> None:
    ses = planner_session(api)
    script = [
        {
            "toolCalls": [
                switch("nobody"),
                switch("reviewer"),
                switch("planner"),
                switch("unreachable"),
            ]
        },
        "Still the planner.",
    ]
    run = wait_for_run(api, send(api, ses["id"], "switch", script=script)["runId"])

    assert run["status"] == "completed", run
    assert (run["effectiveAgentName"], run["switchCount"]) == ("planner", 0)
    events = events_of(server, ses["id"], run["id"])
    failures = [(d["errorCode"], d["errorMessage"]) for n, d in events if n == "tool.failed"]
    assert [code for code, _ in failures] == [
        "agent_not_found",
        "invalid_agent_switch_target",
        "invalid_agent_switch_target",
        "model_not_found",
    ]
    assert "agents you can switch to: assistant, builder, unreachable" in failures[0][1]
    assert "reviewer" in failures[1][1] and "SubAgent" in failures[1][1]
    assert "you already are 'planner'" in failures[2][1]
    assert "cannot switch to 'unreachable'" in failures[3][1]
    assert not [n for n, _ in events if n.startswith("agent.")]
    assert not [s for s in steps(api, run["id"]) if s["stepType"] == "agent_switch"]
    assert api.get(f"/api/v1/sessions/{ses['id']}").json()["activeAgentName"] == "planner"
    assert text_of(messages(api, ses["id"])[-1]) == "Still the planner."


def test_a_run_that_switched_and_then_failed_leaves_the_session_agent_alone(
    api: httpx.Client,
) -> None:
    ses = planner_session(api)
    script = [
        {"toolCalls": [switch("builder")]},
        {"error": {"message": "the model is down", "retryable": False}},
    ]
    run = wait_for_run(api, send(api, ses["id"], "switch then fail", script=script)["runId"])

    assert run["status"] == "failed" and run["errorCode"] == "model_stream_failed", run
    assert (run["effectiveAgentName"], run["switchCount"]) == ("builder", 1)
    assert api.get(f"/api/v1/sessions/{ses['id']}").json()["activeAgentName"] == "planner"


def test_agents_hand_over_at_most_a_bounded_number_of_times(api: httpx.Client) -> None:
    ses = planner_session(api)
    back_and_forth = [{"toolCalls": [switch(agent)]} for agent in ["builder", "planner"] * 5]
    run = wait_for_run(
        api, send(api, ses["id"], "ping-pong", script=[*back_and_forth, "Enough."])["runId"]
    )

    assert run["status"] == "completed", run
    assert run["switchCount"] == 8
    results = tool_results(api, ses["id"])
    assert [r["type"] for r in results] == ["text"] * 8 + ["error-text"] * 2
    assert "switched agents 8 times" in results[-1]["value"]


@pytest.fixture
def openai_api(runner: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    with FakeOpenAI() as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        with runner().client() as api:
            yield fake, api


def test_the_provider_is_sent_the_new_agents_instructions_and_tools(openai_api: Any) -> None:
    fake, api = openai_api
    fake.reply(
        FakeReply(tool_calls=[FakeToolCall("AgentSwitch", {"agent": "builder"})]),
        FakeReply(text="Builder here."),
    )
    ses = planner_session(api)
    run = wait_for_run(api, send(api, ses["id"], "build it")["runId"])

    assert run["status"] == "completed", run
    first, second = (r.body for r in fake.requests[-2:])
    assert "You are the planner." in first["messages"][0]["content"]
    assert "You are the builder." in second["messages"][0]["content"]
    assert "planner" not in second["messages"][0]["content"]
    assert [t["function"]["name"] for t in first["tools"]] == ["LS", "AgentSwitch"]
    assert [t["function"]["name"] for t in second["tools"]] == ["Read", "Write", "AgentSwitch"]
    switch_tool = first["tools"][1]["function"]
    assert (
        "- builder" in switch_tool["description"] and "reviewer" not in switch_tool["description"]
    )
    assert get_run(api, run["id"])["effectiveAgentName"] == "builder"
