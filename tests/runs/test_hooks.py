"""Workspace hooks end to end: real commands in the sandbox at points of real runs, their
`hook` steps and `hook.notice` events; a hook never fails its run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from runs_support import (
    alive,
    create_session,
    create_workspace,
    messages,
    read_file,
    send,
    server_events,
    steps,
    write_file,
)

from corral.testing.waiting import wait_for, wait_for_run


def hook_file(handler: str = "command", **fields: Any) -> str:
    """A hook declaration (JSON is YAML, and quotes any shell command safely)."""
    return json.dumps({"handlerType": handler, **fields})


def workspace_with(api: httpx.Client, hooks: dict[str, str]) -> dict[str, Any]:
    ws = create_workspace(api, "hooks")
    for name, text in hooks.items():
        write_file(api, ws["id"], f".corral/hooks/{name}.yaml", text)
    return ws


def run_in(api: httpx.Client, ws: dict[str, Any], script: list[Any]) -> dict[str, Any]:
    session = create_session(api, ws["id"])
    return wait_for_run(api, send(api, session["id"], script=script)["runId"])


def hook_steps(api: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    return [s for s in steps(api, run_id) if s["stepType"] == "hook"]


def notices(server: Any, session_id: str, run_id: str) -> list[dict[str, Any]]:
    return [
        e["data"]
        for e in server_events(server, session_id)
        if e["event"] == "hook.notice" and e["data"]["runId"] == run_id
    ]


def test_a_command_hook_gets_the_event_as_json_on_stdin(api: httpx.Client) -> None:
    command = 'cat > payload.json; echo "$CORRAL_HOOK_EVENT $CORRAL_HOOK_NAME" > env.txt'
    ws = workspace_with(api, {"record": hook_file(events=["run.completed"], command=command)})
    run = run_in(api, ws, ["All done."])

    assert run["status"] == "completed", run
    assert json.loads(read_file(api, ws["id"], "payload.json") or "") == {
        "eventName": "run.completed",
        "hookName": "record",
        "runId": run["id"],
        "sessionId": run["sessionId"],
        "workspaceId": ws["id"],
        "agentName": "assistant",
        "status": "completed",
    }
    assert read_file(api, ws["id"], "env.txt") == "run.completed record\n"
    (step,) = hook_steps(api, run["id"])
    assert (step["name"], step["status"]) == ("record", "completed")
    assert step["input"] == {
        "eventName": "run.completed",
        "handlerType": "command",
        "command": command,
    }
    assert step["output"] == {
        "exitCode": 0,
        "timedOut": False,
        "stdout": "",
        "stderr": "",
        "truncated": False,
    }


def test_a_failing_hook_gives_a_notice_and_the_run_still_completes(
    server: Any, api: httpx.Client
) -> None:
    failing = hook_file(events=["run.completed"], command="echo 'no audit log' >&2; exit 4")
    ws = workspace_with(api, {"audit": failing})
    run = run_in(api, ws, ["All done."])

    assert run["status"] == "completed", run
    assert notices(server, run["sessionId"], run["id"]) == [
        {
            "runId": run["id"],
            "sessionId": run["sessionId"],
            "hookName": "audit",
            "eventName": "run.completed",
            "handlerType": "command",
            "errorCode": "hook_failed",
            "errorMessage": "the hook exited with 4: no audit log",
        }
    ]
    (step,) = hook_steps(api, run["id"])
    assert step["status"] == "failed"
    assert (step["output"]["exitCode"], step["output"]["stderr"]) == (4, "no audit log\n")
    # An end hook runs once the final answer is committed and before the run's end is.
    order = [
        e["event"]
        for e in server_events(server, run["sessionId"])
        if e["event"] in ("hook.notice", "run.completed")
        or (e["event"] == "message.completed" and "finishReason" in e["data"])
    ]
    assert order == ["message.completed", "hook.notice", "run.completed"]


def test_tool_hooks_follow_the_matcher_and_end_before_the_tool_starts(
    api: httpx.Client,
) -> None:
    ws = workspace_with(
        api,
        {
            "before-bash": hook_file(
                events=["tool.started"], matcher="Bash", command="cat > before-bash.json"
            ),
            "tool-log": hook_file(
                events=["tool.completed", "tool.failed"],
                command='echo "$CORRAL_HOOK_EVENT" >> tool-log.txt',
            ),
        },
    )
    calls = [
        {"name": "Bash", "input": {"command": "cat before-bash.json"}},
        {"name": "Read", "input": {"file_path": "missing.txt"}},
        {"name": "NoSuchTool", "input": {}},
    ]
    run = run_in(api, ws, [{"toolCalls": calls}, "Done."])

    assert run["status"] == "completed", run
    payload = json.loads(read_file(api, ws["id"], "before-bash.json") or "")
    assert (payload["eventName"], payload["toolName"], payload["sourceType"]) == (
        "tool.started",
        "Bash",
        "native",
    )
    assert payload["input"] == {"command": "cat before-bash.json"}
    bash_result = next(
        part
        for m in messages(api, run["sessionId"])
        if m["role"] == "tool"
        for part in m["content"]
        if part["toolName"] == "Bash"
    )
    assert payload["toolCallId"] == bash_result["toolCallId"]
    assert '"eventName": "tool.started"' in bash_result["output"]["value"]  # the hook ran first
    # Read completed nothing and failed; a tool the agent lacks fires no hooks.
    lines = (read_file(api, ws["id"], "tool-log.txt") or "").split()
    assert sorted(lines) == ["tool.completed", "tool.failed"]
    started = [s for s in hook_steps(api, run["id"]) if s["name"] == "before-bash"]
    assert [(s["input"]["toolName"], s["status"]) for s in started] == [("Bash", "completed")]


def test_a_hook_out_of_time_is_killed_and_noticed(server: Any, api: httpx.Client) -> None:
    slow = hook_file(
        events=["run.completed"], timeoutSeconds=0.5, command="echo $$ > hook.pid; exec sleep 300"
    )
    ws = workspace_with(api, {"slow": slow})
    run = run_in(api, ws, ["All done."])

    assert run["status"] == "completed", run
    (notice,) = notices(server, run["sessionId"], run["id"])
    assert (notice["hookName"], notice["errorCode"]) == ("slow", "hook_timed_out")
    (step,) = hook_steps(api, run["id"])
    assert step["status"] == "failed"
    assert (step["output"]["timedOut"], step["output"]["exitCode"]) == (True, 124)
    written = read_file(api, ws["id"], "hook.pid")
    assert written, "the hook never wrote its pid"
    pid = int(written)
    wait_for(lambda: not alive(pid), what="the hook's process to end")


def test_cancelling_a_run_kills_its_running_hook(api: httpx.Client) -> None:
    ws = workspace_with(
        api,
        {
            "slow-start": hook_file(
                events=["run.started"],
                command=("sleep 300 & echo $! > child.pid; echo $$ > shell.pid; wait"),
            ),
            "on-cancel": hook_file(events=["run.cancelled"], command="cat > cancelled.json"),
        },
    )
    session = create_session(api, ws["id"])
    run_id = send(api, session["id"], script=["never reached"])["runId"]
    root = Path(ws["rootPath"])
    wait_for(
        lambda: (root / "child.pid").exists() and (root / "shell.pid").exists(),
        what="the hook's processes",
    )
    pids = [int((root / n).read_text()) for n in ("child.pid", "shell.pid")]

    assert api.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
    assert wait_for_run(api, run_id)["status"] == "cancelled"
    wait_for(lambda: not any(alive(p) for p in pids), what="the hook's process group to end")
    by_name = {s["name"]: s["status"] for s in hook_steps(api, run_id)}
    assert by_name == {"slow-start": "cancelled", "on-cancel": "completed"}
    cancelled = json.loads(read_file(api, ws["id"], "cancelled.json") or "")
    assert (cancelled["eventName"], cancelled["status"]) == ("run.cancelled", "cancelled")
    assert not [s for s in steps(api, run_id) if s["stepType"] == "model_call"]


def test_handlers_not_run_say_so_once_per_run(server: Any, api: httpx.Client) -> None:
    ws = workspace_with(
        api,
        {
            "notify": hook_file(
                "http", events=["run.started", "run.completed"], url="http://127.0.0.1:9/"
            ),
            "judge": hook_file("prompt", events=["run.completed"], prompt="Was it good?"),
        },
    )
    session = create_session(api, ws["id"])
    for _ in range(2):
        run = wait_for_run(api, send(api, session["id"], script=["Fine."])["runId"])
        assert run["status"] == "completed", run
        told = sorted(notices(server, session["id"], run["id"]), key=lambda n: n["hookName"])
        assert [
            (n["hookName"], n["eventName"], n["handlerType"], n["errorCode"]) for n in told
        ] == [
            ("judge", "run.completed", "prompt", "hook_handler_unsupported"),
            ("notify", "run.started", "http", "hook_handler_unsupported"),
        ]
        assert "URL" in told[1]["errorMessage"]
        assert hook_steps(api, run["id"]) == []


def test_an_action_run_fires_its_hooks_in_order(api: httpx.Client) -> None:
    log = hook_file(
        events=["run.started", "tool.started", "tool.completed", "run.completed"],
        matcher="list-files",
        command='echo "$CORRAL_HOOK_EVENT" >> hooks.log',
    )
    ws = workspace_with(api, {"log": log})
    resp = api.post(f"/api/v1/workspaces/{ws['id']}/actions/list-files/runs", json={})
    assert resp.status_code == 202, resp.text
    assert wait_for_run(api, resp.json()["runId"])["status"] == "completed"
    assert (read_file(api, ws["id"], "hooks.log") or "").split() == [
        "run.started",
        "tool.started",
        "tool.completed",
        "run.completed",
    ]


def test_a_run_out_of_time_fires_its_failed_hooks(api: httpx.Client) -> None:
    ws = workspace_with(
        api, {"on-fail": hook_file(events=["run.failed"], command="cat > failed.json")}
    )
    hasty = "---\nname: hasty\nrunTimeoutSeconds: 0.5\n---\nBe quick.\n"
    write_file(api, ws["id"], ".corral/agents/hasty.md", hasty)
    session = create_session(api, ws["id"], agentName="hasty")
    sent = send(api, session["id"], script=[{"text": "slow", "delayMs": 30_000}])
    assert wait_for_run(api, sent["runId"])["status"] == "timed_out"
    failed = json.loads(read_file(api, ws["id"], "failed.json") or "")
    assert (failed["eventName"], failed["status"], failed["errorCode"]) == (
        "run.failed",
        "timed_out",
        "run_timed_out",
    )
    assert "time limit" in failed["errorMessage"]
