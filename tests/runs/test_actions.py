"""Workspace actions triggered over the API: checks, then a run whose output is the command's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from runs_support import alive, create_session, create_workspace, server_events, steps, write_file

from corral.testing.waiting import wait_for, wait_for_run

ECHO_ACTION = """\
name: echo-input
description: Print the input and the argument it names.
command: 'cat; echo; echo "name=$CORRAL_ACTION_NAME"'
inputSchema:
  type: object
  properties: {word: {type: string}}
  required: [word]
  additionalProperties: false
"""


def _trigger(api: httpx.Client, ws_id: str, name: str, **body: Any) -> httpx.Response:
    return api.post(f"/api/v1/workspaces/{ws_id}/actions/{name}/runs", json=body)


def _workspace_with(api: httpx.Client, files: dict[str, str]) -> dict[str, Any]:
    ws = create_workspace(api)
    for path, text in files.items():
        write_file(api, ws["id"], path, text)
    return ws


def test_an_action_runs_its_command_with_the_input(api: httpx.Client) -> None:
    ws = _workspace_with(api, {".corral/actions/echo-input.yaml": ECHO_ACTION})
    resp = _trigger(api, ws["id"], "echo-input", input={"word": "hello"})
    assert resp.status_code == 202, resp.text
    accepted = resp.json()
    assert accepted["status"] == "queued" and accepted["actionName"] == "echo-input"
    run = wait_for_run(api, accepted["runId"])
    assert run["status"] == "completed", run
    assert run["triggerType"] == "api_action" and run["triggerRef"] == "echo-input"
    assert run["metadata"]["actionName"] == "echo-input"
    assert run["metadata"]["input"] == {"word": "hello"}
    output = run["metadata"]["output"]
    assert '{"word": "hello"}' in output["stdout"] and "name=echo-input" in output["stdout"]
    session = api.get(f"/api/v1/sessions/{accepted['sessionId']}").json()
    assert session["title"] == "Action · echo-input"
    tool_step = next(s for s in steps(api, run["id"]) if s["stepType"] == "tool_call")
    assert tool_step["name"] == "echo-input" and tool_step["output"]["exitCode"] == 0
    assert tool_step["input"]["input"] == {"word": "hello"}  # the input itself, as tools have it


def test_the_builtin_list_files_action_runs_in_a_given_session(api: httpx.Client) -> None:
    ws = create_workspace(api)
    ses = create_session(api, ws["id"])
    resp = _trigger(api, ws["id"], "list-files", input={}, sessionId=ses["id"])
    assert resp.status_code == 202, resp.text
    assert resp.json()["sessionId"] == ses["id"]
    run = wait_for_run(api, resp.json()["runId"])
    assert run["status"] == "completed" and "AGENTS.md" in run["metadata"]["output"]["stdout"]


def test_invalid_input_is_rejected_before_any_run(api: httpx.Client) -> None:
    ws = _workspace_with(api, {".corral/actions/echo-input.yaml": ECHO_ACTION})
    resp = _trigger(api, ws["id"], "echo-input", input={"word": 3, "extra": True})
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "action_input_invalid" and error["details"]["errors"]
    assert api.get(f"/api/v1/workspaces/{ws['id']}/sessions").json()["items"] == []


def test_callability_is_honoured(api: httpx.Client) -> None:
    userish = "name: userish\ncommand: 'true'\ncallableByApi: false\ncallableByUser: true\n"
    apiish = "name: apiish\ncommand: 'true'\ncallableByApi: true\ncallableByUser: false\n"
    ws = _workspace_with(
        api, {".corral/actions/userish.yaml": userish, ".corral/actions/apiish.yaml": apiish}
    )
    denied = _trigger(api, ws["id"], "userish")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "action_not_callable_by_api"
    denied = _trigger(api, ws["id"], "apiish", triggerSource="user")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "action_not_callable_by_user"
    allowed = _trigger(api, ws["id"], "userish", triggerSource="user")
    assert allowed.status_code == 202, allowed.text
    run = wait_for_run(api, allowed.json()["runId"])
    assert run["status"] == "completed" and run["triggerType"] == "manual_action"


def test_a_failing_command_fails_the_run(api: httpx.Client) -> None:
    failing = "name: failing\ncommand: 'echo broken >&2; exit 3'\n"
    ws = _workspace_with(api, {".corral/actions/failing.yaml": failing})
    run = wait_for_run(api, _trigger(api, ws["id"], "failing").json()["runId"])
    assert run["status"] == "failed" and run["errorCode"] == "action_failed"
    assert "exited with 3" in run["errorMessage"] and "broken" in run["errorMessage"]


def test_unknown_action_and_foreign_session(api: httpx.Client) -> None:
    ws = create_workspace(api, "one")
    other = create_workspace(api, "two")
    foreign = create_session(api, other["id"])
    missing = _trigger(api, ws["id"], "nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "action_not_found"
    mismatch = _trigger(api, ws["id"], "list-files", sessionId=foreign["id"])
    assert mismatch.status_code == 409
    assert mismatch.json()["error"]["code"] == "session_workspace_mismatch"


def test_cancel_of_a_running_action_ends_its_command_and_its_step(
    server: Any, api: httpx.Client
) -> None:
    command = "sleep 300 & echo $! > child.pid; echo $$ > shell.pid; wait"
    sleeper = f"name: sleeper\ncommand: '{command}'\n"
    ws = _workspace_with(api, {".corral/actions/sleeper.yaml": sleeper})
    accepted = _trigger(api, ws["id"], "sleeper").json()
    root = Path(ws["rootPath"])
    wait_for(
        lambda: (root / "child.pid").exists() and (root / "shell.pid").exists(),
        what="the command's processes",
    )
    pids = [int((root / n).read_text()) for n in ("child.pid", "shell.pid")]
    api.post(f"/api/v1/runs/{accepted['runId']}/cancel")
    assert wait_for_run(api, accepted["runId"])["status"] == "cancelled"
    wait_for(lambda: not any(alive(p) for p in pids), what="the process group to be gone")
    tool_step = next(s for s in steps(api, accepted["runId"]) if s["stepType"] == "tool_call")
    assert tool_step["status"] == "cancelled"
    tool_events = [
        e for e in server_events(server, accepted["sessionId"]) if e["event"].startswith("tool.")
    ]
    assert [e["event"] for e in tool_events] == ["tool.started", "tool.failed"]
    failed = tool_events[1]["data"]
    assert failed["errorCode"] == "tool_cancelled" and failed["toolName"] == "sleeper"
    assert failed["sourceType"] == "action"
