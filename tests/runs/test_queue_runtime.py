"""The session queue (docs/contract.md#session-queue) with runs that really execute: serial
runs per session, concurrent sessions, interrupt, guide, cancel of queued, running and ended
runs, requeue and timeouts.

Every state is reached the way a user reaches it: a scripted turn that takes its time keeps a
run `running` until the test cancels it, a failing turn fails it, and an agent's
`runTimeoutSeconds` times it out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from runs_support import (
    alive,
    create_session,
    create_workspace,
    get_run,
    messages,
    replayed_events,
    send,
    server_events,
    steps,
    write_file,
)

from corral.testing.waiting import wait_for, wait_for_run

SLOW = [{"text": "thinking slowly", "delayMs": 30_000}]  # running until cancelled
FAILING = [{"error": {"message": "the model is down", "retryable": False}}]
HASTY = "---\nname: hasty\nrunTimeoutSeconds: 0.5\n---\nBe quick.\n"


def _session(api: httpx.Client, **body: Any) -> tuple[dict, dict]:
    ws = create_workspace(api)
    return ws, create_session(api, ws["id"], **body)


def _ended_run(api: httpx.Client, status: str) -> dict[str, Any]:
    """A run, alone in its session, that ended `completed`, `failed` or `timed_out`."""
    ws = create_workspace(api)
    if status == "timed_out":
        write_file(api, ws["id"], ".corral/agents/hasty.md", HASTY)
        ses, script = create_session(api, ws["id"], agentName="hasty"), SLOW
    else:
        ses, script = create_session(api, ws["id"]), FAILING if status == "failed" else ["done"]
    run = wait_for_run(api, send(api, ses["id"], "go", script=script)["runId"])
    assert run["status"] == status, run
    return run


def _running_run(api: httpx.Client, session_id: str) -> str:
    run_id = str(send(api, session_id, "slow", script=SLOW)["runId"])
    wait_for_run(api, run_id, "running")
    return run_id


def _post(api: httpx.Client, path: str, status: int = 202) -> dict[str, Any]:
    resp = api.post(f"/api/v1{path}")
    assert resp.status_code == status, resp.text
    return dict(resp.json())


def _queue(api: httpx.Client, session_id: str) -> list[str]:
    resp = api.get(f"/api/v1/sessions/{session_id}/queue")
    assert resp.status_code == 200, resp.text
    return [item["runId"] for item in resp.json()["items"]]


def test_runs_of_a_session_are_serial_and_follow_ups_wait(api: httpx.Client) -> None:
    _, ses = _session(api)
    first = send(api, ses["id"], "one", script=[{"text": "first", "delayMs": 300}])
    second = send(api, ses["id"], "two", script=["second"])
    assert first["delivery"] == "active_run"
    assert second["delivery"] == "session_queue" and second["queuedPosition"] == 1
    a, b = wait_for_run(api, first["runId"]), wait_for_run(api, second["runId"])
    assert a["status"] == b["status"] == "completed"
    assert b["startedAt"] >= a["endedAt"]
    texts = [(m["role"], m["runId"]) for m in messages(api, ses["id"])]
    # the follow-up's user message counts from its dispatch: after the first answer
    assert texts == [
        ("user", a["id"]),
        ("assistant", a["id"]),
        ("user", b["id"]),
        ("assistant", b["id"]),
    ]


def test_runs_of_different_sessions_overlap(api: httpx.Client) -> None:
    ws = create_workspace(api)
    sessions = [create_session(api, ws["id"]) for _ in range(3)]
    runs = [
        send(api, s["id"], "go", script=[{"text": "ok", "delayMs": 1500}])["runId"]
        for s in sessions
    ]
    ended = [wait_for_run(api, r) for r in runs]
    assert {r["status"] for r in ended} == {"completed"}
    assert max(r["startedAt"] for r in ended) < min(r["endedAt"] for r in ended)


def test_cancel_of_a_running_run_stops_the_model(server: Any, api: httpx.Client) -> None:
    _, ses = _session(api)
    words = [{"text": "one two three", "chunkDelayMs": 30_000}]
    run_id = send(api, ses["id"], "slow", script=words)["runId"]
    wait_for(lambda: len(messages(api, ses["id"])) == 2, what="the model's first word")
    resp = api.post(f"/api/v1/runs/{run_id}/cancel")
    assert resp.status_code == 202, resp.text
    run = wait_for_run(api, run_id)
    assert run["status"] == "cancelled" and run["cancelRequestedAt"]
    model_steps = [s for s in steps(api, run_id) if s["stepType"] == "model_call"]
    assert [s["status"] for s in model_steps] == ["cancelled"]
    answer = messages(api, ses["id"])[-1]
    assert answer["role"] == "assistant" and answer["content"] == [{"type": "text", "text": "one "}]
    completed = [
        e["data"] for e in server_events(server, ses["id"]) if e["event"] == "message.completed"
    ]
    assert [(c["messageId"], c["content"]) for c in completed] == [
        (answer["id"], answer["content"])
    ]


def test_cancel_kills_the_running_tools_process_group(
    server: Any, api: httpx.Client, tmp_path: Path
) -> None:
    ws, ses = _session(api)
    script = [
        {
            "toolCalls": [
                {
                    "name": "Bash",
                    "input": {
                        "command": "sleep 300 & echo $! > child.pid; echo $$ > shell.pid; wait"
                    },
                }
            ]
        }
    ]
    run_id = send(api, ses["id"], "sleep", script=script)["runId"]
    root = Path(ws["rootPath"])
    wait_for(
        lambda: (root / "child.pid").exists() and (root / "shell.pid").exists(),
        what="the tool's processes",
    )
    pids = [int((root / n).read_text()) for n in ("child.pid", "shell.pid")]
    api.post(f"/api/v1/runs/{run_id}/cancel")
    assert wait_for_run(api, run_id)["status"] == "cancelled"
    wait_for(lambda: not any(alive(p) for p in pids), what="the process group to be gone")
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
    assert wait_for_run(api, first)["status"] == "cancelled"


def test_cancel_of_a_running_run_is_left_to_its_worker_and_the_queue_waits_for_it(
    api: httpx.Client,
) -> None:
    _, ses = _session(api)
    slow = _running_run(api, ses["id"])
    later = send(api, ses["id"], "later", script=["later"])
    assert later["delivery"] == "session_queue" and later["queuedPosition"] == 1
    assert _post(api, f"/runs/{slow}/cancel") == {
        "runId": slow,
        "status": "cancellation_requested",
    }
    cancelled = wait_for_run(api, slow)
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelRequestedAt"] <= cancelled["endedAt"]
    done = wait_for_run(api, later["runId"])
    assert done["status"] == "completed"
    assert done["startedAt"] >= cancelled["endedAt"]  # dispatched once the worker stopped


@pytest.mark.parametrize("status", ["completed", "failed", "timed_out"])
def test_cancel_of_an_ended_run_is_a_no_op(api: httpx.Client, status: str) -> None:
    run = _ended_run(api, status)
    events = replayed_events(api, run["sessionId"])
    assert _post(api, f"/runs/{run['id']}/cancel")["status"] == "cancellation_requested"
    assert get_run(api, run["id"]) == run
    assert replayed_events(api, run["sessionId"]) == events


def test_interrupt_cancels_the_running_run_and_runs_the_new_message(api: httpx.Client) -> None:
    _, ses = _session(api)
    slow = _running_run(api, ses["id"])
    urgent = send(api, ses["id"], "now!", script=["on it"], runningRunBehavior="interrupt")
    # it waits at the head of the queue while the running run's worker stops it
    assert urgent["delivery"] == "session_queue" and urgent["queuedPosition"] == 1
    cancelled = wait_for_run(api, slow)
    assert cancelled["status"] == "cancelled" and "cancelRequestedAt" in cancelled
    done = wait_for_run(api, urgent["runId"])
    assert done["status"] == "completed"
    assert done["startedAt"] >= cancelled["endedAt"]


def test_guide_moves_a_pending_run_ahead(api: httpx.Client) -> None:
    _, ses = _session(api)
    slow = _running_run(api, ses["id"])
    later = send(api, ses["id"], "later", script=["later"])["runId"]
    guided = send(api, ses["id"], "guided", script=["guided"])["runId"]
    assert _post(api, f"/runs/{guided}/guide") == {
        "runId": guided,
        "status": "interrupt_requested",
    }
    cancelled = wait_for_run(api, slow)
    assert cancelled["status"] == "cancelled" and "cancelRequestedAt" in cancelled
    g, lt = wait_for_run(api, guided), wait_for_run(api, later)
    assert g["status"] == lt["status"] == "completed"
    assert cancelled["endedAt"] <= g["startedAt"] < lt["startedAt"]


@pytest.mark.parametrize("status", ["completed", "running"])
def test_requeue_of_a_completed_or_running_run_is_409(api: httpx.Client, status: str) -> None:
    if status == "running":
        run_id = _running_run(api, _session(api)[1]["id"])
    else:
        run_id = _ended_run(api, status)["id"]
    resp = api.post(f"/api/v1/runs/{run_id}/requeue")
    assert resp.status_code == 409, resp.text
    error = resp.json()["error"]
    assert error["code"] == "run_requeue_invalid_status"
    assert error["details"]["status"] == status
    assert get_run(api, run_id)["status"] == status
    if status == "running":
        _post(api, f"/runs/{run_id}/cancel")
        assert wait_for_run(api, run_id)["status"] == "cancelled"


@pytest.mark.parametrize("status", ["failed", "timed_out"])
def test_requeue_runs_a_failed_run_again(api: httpx.Client, status: str) -> None:
    run = _ended_run(api, status)
    assert _post(api, f"/runs/{run['id']}/requeue") == {
        "runId": run["id"],
        "status": "queued",
        "previousStatus": status,
        "source": "manual_requeue",
    }
    # the same script ends the second attempt as it ended the first
    again = wait_for(
        lambda: (
            (now := get_run(api, run["id"])).get("startedAt", "") > run["endedAt"]
            and now["status"] == status
            and now
        ),
        what="the requeued run to run again",
    )
    recovery = again["metadata"]["recovery"]
    assert recovery["recoveredBy"] == "manual_operator_requeue"
    assert recovery["previousStatus"] == status
    assert again["metadata"]["recoveryAttempts"] == 1
    ending = f"run.{status}"
    system = [s["name"] for s in steps(api, run["id"]) if s["stepType"] == "system"]
    assert system == ["run.started", ending, "run.requeued", "run.started", ending]
    # nothing else was active in the session: it ran at once, never from the queue
    names = [event for event, _ in replayed_events(api, run["sessionId"])]
    assert "queue.updated" not in names and names.count("run.queued") == 2


def test_requeue_behind_an_active_run_waits_in_the_queue(api: httpx.Client) -> None:
    _, ses = _session(api)
    failed = send(api, ses["id"], "a", script=FAILING)["runId"]
    assert wait_for_run(api, failed)["status"] == "failed"
    slow = _running_run(api, ses["id"])
    waiting = send(api, ses["id"], "c", script=["c"])["runId"]
    assert _post(api, f"/runs/{failed}/requeue")["status"] == "queued"
    assert _queue(api, ses["id"]) == [waiting, failed]
    queued = get_run(api, failed)
    assert queued["status"] == "queued"
    assert not {"errorCode", "errorMessage", "endedAt"} & set(queued)
    assert queued["metadata"]["recoveryAttempts"] == 1

    _post(api, f"/runs/{slow}/cancel")
    c, a = wait_for_run(api, waiting), wait_for_run(api, failed)
    assert (c["status"], a["status"]) == ("completed", "failed")
    assert c["endedAt"] <= a["startedAt"]  # the requeued run's turn came after c


def test_batch_requeue_mixes_accepted_and_error_items(api: httpx.Client) -> None:
    failed, completed = _ended_run(api, "failed"), _ended_run(api, "completed")
    resp = api.post(
        "/api/v1/runs/requeue",
        json={"runIds": [completed["id"], "run_missing", failed["id"]]},
    )
    assert resp.status_code == 200, resp.text
    wrong_status, missing, accepted = resp.json()["items"]
    assert wrong_status["runId"] == completed["id"]
    assert wrong_status["status"] == "error"
    assert wrong_status["errorCode"] == "run_requeue_invalid_status"
    assert wrong_status["errorMessage"]
    assert missing == {
        "runId": "run_missing",
        "status": "error",
        "errorCode": "run_not_found",
        "errorMessage": missing["errorMessage"],
    }
    assert accepted == {
        "runId": failed["id"],
        "status": "queued",
        "previousStatus": "failed",
        "source": "manual_requeue",
    }
    assert get_run(api, completed["id"]) == completed
    again = wait_for(
        lambda: (
            (run := get_run(api, failed["id"])).get("startedAt", "") > failed["endedAt"]
            and run["status"] == "failed"
            and run
        ),
        what="the requeued run to run again",
    )
    assert again["metadata"]["recoveryAttempts"] == 1


def test_agent_run_timeout_ends_the_run_timed_out(api: httpx.Client) -> None:
    run = _ended_run(api, "timed_out")
    assert run["errorCode"] == "run_timed_out"
    model_call = next(s for s in steps(api, run["id"]) if s["stepType"] == "model_call")
    assert model_call["status"] == "cancelled"  # cut short by the time limit


def test_tool_timeout_is_a_tool_timed_out_result(server: Any, api: httpx.Client) -> None:
    _, ses = _session(api)
    script = [
        {"toolCalls": [{"name": "Bash", "input": {"command": "sleep 30", "timeout": 300}}]},
        "gave up",
    ]
    run = wait_for_run(api, send(api, ses["id"], "x", script=script)["runId"])
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
        first = wait_for_run(api, run_id, "running")["heartbeatAt"]
        wait_for(lambda: get_run(api, run_id)["heartbeatAt"] > first, what="a fresher heartbeat")
        api.post(f"/api/v1/runs/{run_id}/cancel")
        wait_for_run(api, run_id)


def test_the_process_is_not_left_with_zombie_runs(api: httpx.Client) -> None:
    """Many short runs in a row leave nothing running behind."""
    _, ses = _session(api)
    ids = [send(api, ses["id"], f"m{i}", script=[f"r{i}"])["runId"] for i in range(10)]
    assert {wait_for_run(api, r)["status"] for r in ids} == {"completed"}
    assert api.get(f"/api/v1/sessions/{ses['id']}/queue").json()["items"] == []
