"""Reference §7 with runs that really execute: serial runs per session, concurrent sessions,
interrupt, guide, cancel of queued and running runs, requeue and timeouts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from runs_support import (
    alive,
    get_run,
    messages,
    new_session,
    new_workspace,
    send,
    server_events,
    steps,
    wait_for,
    wait_status,
    write_file,
)

SLOW = [{"text": "thinking slowly", "delayMs": 30_000}]


def _session(api: httpx.Client, **body: Any) -> tuple[dict, dict]:
    ws = new_workspace(api)
    return ws, new_session(api, ws["id"], **body)


def test_runs_of_a_session_are_serial_and_follow_ups_wait(api: httpx.Client) -> None:
    _, ses = _session(api)
    first = send(api, ses["id"], "one", script=[{"text": "first", "delayMs": 300}])
    second = send(api, ses["id"], "two", script=["second"])
    assert first["delivery"] == "active_run"
    assert second["delivery"] == "session_queue" and second["queuedPosition"] == 1
    a, b = wait_status(api, first["runId"]), wait_status(api, second["runId"])
    assert a["status"] == b["status"] == "completed"
    assert b["startedAt"] >= a["endedAt"]
    texts = [(m["role"], m["runId"]) for m in messages(api, ses["id"])]
    # the follow-up's user message counts from its dispatch: after the first answer
    assert texts == [("user", a["id"]), ("assistant", a["id"]), ("user", b["id"]),
                     ("assistant", b["id"])]  # fmt: skip


def test_runs_of_different_sessions_overlap(api: httpx.Client) -> None:
    ws = new_workspace(api)
    sessions = [new_session(api, ws["id"]) for _ in range(3)]
    runs = [send(api, s["id"], "go", script=[{"text": "ok", "delayMs": 1500}])["runId"]
            for s in sessions]  # fmt: skip
    ended = [wait_status(api, r) for r in runs]
    assert {r["status"] for r in ended} == {"completed"}
    assert max(r["startedAt"] for r in ended) < min(r["endedAt"] for r in ended)


def test_cancel_of_a_running_run_stops_the_model(server: Any, api: httpx.Client) -> None:
    _, ses = _session(api)
    words = [{"text": "one two three", "chunkDelayMs": 30_000}]
    run_id = send(api, ses["id"], "slow", script=words)["runId"]
    wait_for("the model's first word", lambda: len(messages(api, ses["id"])) == 2)
    resp = api.post(f"/api/v1/runs/{run_id}/cancel")
    assert resp.status_code == 202, resp.text
    run = wait_status(api, run_id)
    assert run["status"] == "cancelled" and run["cancelRequestedAt"]
    model_steps = [s for s in steps(api, run_id) if s["stepType"] == "model_call"]
    assert [s["status"] for s in model_steps] == ["cancelled"]
    answer = messages(api, ses["id"])[-1]
    assert answer["role"] == "assistant" and answer["content"] == [{"type": "text", "text": "one "}]
    completed = [e["data"] for e in server_events(server, ses["id"])
                 if e["event"] == "message.completed"]  # fmt: skip
    assert [(c["messageId"], c["content"]) for c in completed] == [
        (answer["id"], answer["content"])
    ]


def test_cancel_kills_the_running_tools_process_group(
    server: Any, api: httpx.Client, tmp_path: Path
) -> None:
    ws, ses = _session(api)
    script = [{"toolCalls": [{"name": "Bash", "input": {
        "command": "sleep 300 & echo $! > child.pid; echo $$ > shell.pid; wait"}}]}]  # fmt: skip
    run_id = send(api, ses["id"], "sleep", script=script)["runId"]
    root = Path(ws["rootPath"])
    wait_for("the tool's processes", lambda: (root / "child.pid").exists()
             and (root / "shell.pid").exists())  # fmt: skip
    pids = [int((root / n).read_text()) for n in ("child.pid", "shell.pid")]
    api.post(f"/api/v1/runs/{run_id}/cancel")
    assert wait_status(api, run_id)["status"] == "cancelled"
    wait_for("the process group to be gone", lambda: not any(alive(p) for p in pids), 10)
    tool_step = next(s for s in steps(api, run_id) if s["stepType"] == "tool_call")
    assert tool_step["status"] == "cancelled"
    # the call is answered as a failing tool's would be, so the session's history stays valid
    call, result = [m for m in messages(api, ses["id"]) if m["role"] != "user"]
    call_id = call["content"][0]["toolCallId"]
    assert result["content"][0]["toolCallId"] == call_id
    assert result["content"][0]["output"]["type"] == "error-text"
    events = [e for e in server_events(server, ses["id"]) if e["data"].get("toolCallId")]
    assert [e["event"] for e in events] == ["tool.started", "tool.failed", "message.completed"]
    assert events[1]["data"]["errorCode"] == "tool_cancelled"
    assert events[2]["data"]["messageId"] == result["id"]


def test_cancel_of_a_queued_run_ends_it_without_executing(api: httpx.Client) -> None:
    _, ses = _session(api)
    first = send(api, ses["id"], "slow", script=SLOW)["runId"]
    queued = send(api, ses["id"], "later")["runId"]
    api.post(f"/api/v1/runs/{queued}/cancel")
    run = get_run(api, queued)
    assert run["status"] == "cancelled" and "startedAt" not in run
    api.post(f"/api/v1/runs/{first}/cancel")
    assert wait_status(api, first)["status"] == "cancelled"


def test_interrupt_cancels_the_running_run_and_runs_the_new_message(api: httpx.Client) -> None:
    _, ses = _session(api)
    slow = send(api, ses["id"], "slow", script=SLOW)["runId"]
    wait_status(api, slow, "running")
    urgent = send(api, ses["id"], "now!", script=["on it"], runningRunBehavior="interrupt")
    assert wait_status(api, slow)["status"] == "cancelled"
    done = wait_status(api, urgent["runId"])
    assert done["status"] == "completed"


def test_guide_moves_a_pending_run_ahead(api: httpx.Client) -> None:
    _, ses = _session(api)
    slow = send(api, ses["id"], "slow", script=SLOW)["runId"]
    wait_status(api, slow, "running")
    later = send(api, ses["id"], "later", script=["later"])["runId"]
    guided = send(api, ses["id"], "guided", script=["guided"])["runId"]
    resp = api.post(f"/api/v1/runs/{guided}/guide")
    assert resp.status_code == 202, resp.text
    assert wait_status(api, slow)["status"] == "cancelled"
    g, lt = wait_status(api, guided), wait_status(api, later)
    assert g["status"] == lt["status"] == "completed"
    assert g["startedAt"] < lt["startedAt"]


def test_requeue_runs_a_failed_run_again(api: httpx.Client) -> None:
    _, ses = _session(api)
    run_id = send(api, ses["id"], "x", script=[{"error": {"message": "nope", "retryable": False}}])[
        "runId"
    ]
    assert wait_status(api, run_id)["status"] == "failed"
    resp = api.post(f"/api/v1/runs/{run_id}/requeue")
    assert resp.status_code == 202, resp.text
    wait_for("the requeued run to run again",
             lambda: get_run(api, run_id)["status"] == "failed"
             and get_run(api, run_id)["metadata"].get("recoveryAttempts") == 1)  # fmt: skip
    names = [s["name"] for s in steps(api, run_id) if s["stepType"] == "system"]
    assert names.count("run.started") == 2 and "run.requeued" in names


def test_agent_run_timeout_ends_the_run_timed_out(api: httpx.Client) -> None:
    ws = new_workspace(api)
    write_file(api, ws["id"], ".corral/agents/hasty.md",
               "---\nname: hasty\nrunTimeoutSeconds: 0.5\n---\nBe quick.\n")  # fmt: skip
    ses = new_session(api, ws["id"], agentName="hasty")
    run = wait_status(api, send(api, ses["id"], "slow", script=SLOW)["runId"])
    assert run["status"] == "timed_out"
    assert run["errorCode"] == "run_timed_out"


def test_tool_timeout_is_a_tool_timed_out_result(server: Any, api: httpx.Client) -> None:
    _, ses = _session(api)
    script = [{"toolCalls": [{"name": "Bash", "input": {"command": "sleep 30", "timeout": 300}}]},
              "gave up"]  # fmt: skip
    run = wait_status(api, send(api, ses["id"], "x", script=script)["runId"])
    assert run["status"] == "completed"
    result = next(m for m in messages(api, ses["id"]) if m["role"] == "tool")["content"][0]
    assert result["output"]["type"] == "error-text"
    failed = next(
        e["data"] for e in server_events(server, ses["id"]) if e["event"] == "tool.failed"
    )
    assert failed["errorCode"] == "tool_timed_out" and failed["toolName"] == "Bash"


def test_heartbeats_are_refreshed_while_running(runner: Any) -> None:
    with runner(run_heartbeat_seconds=0.1).client() as api:
        _, ses = _session(api)
        run_id = send(api, ses["id"], "slow", script=SLOW)["runId"]
        first = wait_status(api, run_id, "running")["heartbeatAt"]
        wait_for("a fresher heartbeat", lambda: get_run(api, run_id)["heartbeatAt"] > first)
        api.post(f"/api/v1/runs/{run_id}/cancel")
        wait_status(api, run_id)


def test_the_process_is_not_left_with_zombie_runs(api: httpx.Client) -> None:
    """Many short runs in a row leave nothing running behind."""
    _, ses = _session(api)
    ids = [send(api, ses["id"], f"m{i}", script=[f"r{i}"])["runId"] for i in range(10)]
    assert {wait_status(api, r)["status"] for r in ids} == {"completed"}
    assert api.get(f"/api/v1/sessions/{ses['id']}/queue").json()["items"] == []
