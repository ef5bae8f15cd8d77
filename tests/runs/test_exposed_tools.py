"""run_action and Skill end to end over HTTP: only what the workspace exposes to the model, the
action's input checked and its command run, a skill's instructions read; and which engine
tools an agent is offered."""

from __future__ import annotations

from typing import Any

import httpx
from runs_support import (
    create_session,
    create_workspace,
    messages,
    send,
    server_events,
    steps,
    write_file,
)

from corral.testing.waiting import wait_for_run

NATIVE = ["Bash", "Read", "Write", "Edit", "MultiEdit", "LS", "Glob", "Grep", "TodoWrite"]
FILES = {
    ".corral/actions/echo.yaml": "description: Echo the input.\ncommand: cat\nexposeToLlm: true\n"
    "inputSchema: {type: object, properties: {word: {type: string}}, required: [word]}\n",
    ".corral/actions/broken.yaml": "command: 'echo it broke >&2; exit 3'\nexposeToLlm: true\n",
    ".corral/skills/style/SKILL.md": "---\ndescription: House style.\n---\nWrite short lines.\n",
    ".corral/skills/secret/SKILL.md": "---\nexposeToLlm: false\n---\nHidden.\n",
    ".corral/agents/doer.md": "---\ntools: [run_action, Skill]\n---\nYou do things.\n",
    ".corral/agents/free.md": "---\n---\nYou may use everything.\n",
}


def call(tool: str, **input: Any) -> dict[str, Any]:
    return {"name": tool, "input": input}


def session_of(api: httpx.Client, agent: str) -> dict[str, Any]:
    ws = create_workspace(api)
    for path, text in FILES.items():
        write_file(api, ws["id"], path, text)
    return create_session(api, ws["id"], agentName=agent)


def test_the_model_runs_exposed_actions_and_reads_exposed_skills(
    server: Any, api: httpx.Client
) -> None:
    ses = session_of(api, "doer")
    script = [
        {
            "toolCalls": [
                call("run_action", name="echo", input={"word": "hi"}),
                call("run_action", name="echo", input={"word": 7}),
                call("run_action", name="list-files"),  # the runtime's, not exposed to the model
                call("run_action", name="broken"),
                call("Skill", name="style"),
                call("Skill", name="secret"),
            ]
        },
        "Done.",
    ]
    run = wait_for_run(api, send(api, ses["id"], "go", script=script)["runId"])
    assert run["status"] == "completed", run

    msgs = messages(api, ses["id"])
    results = {
        m["content"][0]["toolCallId"]: m["content"][0]["output"]
        for m in msgs
        if m["role"] == "tool"
    }
    calls = [
        p["toolCallId"]
        for m in msgs
        for p in m["content"]
        if isinstance(p, dict) and p["type"] == "tool-call"
    ]
    # the calls ran side by side: their results are matched to them by id
    echoed, bad_input, hidden_action, broken, skill, hidden_skill = (results[c] for c in calls)
    assert echoed["type"] == "json" and echoed["value"]["exitCode"] == 0
    assert echoed["value"]["stdout"] == '{"word": "hi"}'
    assert "word: 7 is not of type" in bad_input["value"]
    assert hidden_action["value"] == "there is no action named 'list-files'; actions: broken, echo"
    assert broken["type"] == "error-text" and "exited with 3: it broke" in broken["value"]
    assert skill == {"type": "text", "value": "Write short lines."}
    assert hidden_skill["value"] == "there is no skill named 'secret'; skills: debugging, style"

    ends = {
        e["data"]["toolCallId"]: e["data"]
        for e in server_events(server, ses["id"])
        if e["event"] in ("tool.completed", "tool.failed")
    }
    assert [
        (ends[c]["toolName"], ends[c]["sourceType"], ends[c].get("errorCode")) for c in calls
    ] == [
        ("run_action", "action", None),
        ("run_action", "action", "action_input_invalid"),
        ("run_action", "action", "action_not_found"),
        ("run_action", "action", "action_failed"),
        ("Skill", "skill", None),
        ("Skill", "skill", "skill_not_found"),
    ]
    offered = next(s for s in steps(api, run["id"]) if s["stepType"] == "model_call")
    assert offered["input"]["tools"] == ["run_action", "Skill"]


def test_an_agent_without_a_tool_list_is_offered_every_tool_that_applies(
    api: httpx.Client,
) -> None:
    ses = session_of(api, "free")
    run = wait_for_run(api, send(api, ses["id"], "hi", script=["Hello."])["runId"])

    offered = next(s for s in steps(api, run["id"]) if s["stepType"] == "model_call")
    assert offered["input"]["tools"] == [*NATIVE, "run_action", "Skill", "AgentSwitch", "SubAgent"]


def test_engine_tools_with_nothing_to_act_on_are_not_offered(api: httpx.Client) -> None:
    ws = create_workspace(api)
    for path in (".corral/agents/reviewer.md", ".corral/skills/debugging"):
        resp = api.delete(
            f"/api/v1/sandboxes/{ws['id']}/files/entry", params={"path": path, "recursive": "true"}
        )
        assert resp.status_code == 200, resp.text
    write_file(api, ws["id"], ".corral/agents/alone.md", "---\n---\nAlone.\n")
    ses = create_session(api, ws["id"], agentName="alone")
    run = wait_for_run(api, send(api, ses["id"], "hi", script=["Hello."])["runId"])

    offered = next(s for s in steps(api, run["id"]) if s["stepType"] == "model_call")
    # no exposed action, no skill, no subagent; AgentSwitch: the runtime's assistant
    assert offered["input"]["tools"] == [*NATIVE, "AgentSwitch"]
