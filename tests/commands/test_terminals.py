"""Background commands and the terminals of a session: the log readable through the files
API, snapshots, input, stop (which ends the whole group), limits, and shutdown."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from commands_support import (
    Box,
    group_members,
    new_box,
    running_with,
    serving,
)

from corral.sandbox.tasks import TaskRegistry
from corral.testing.api_calls import assert_error
from corral.testing.waiting import wait_for
from corral_client import Client
from corral_client.api.terminals import get_terminal_snapshot, send_terminal_input, stop_terminal
from corral_client.models import (
    TerminalInputAccepted,
    TerminalInputRequest,
    TerminalSnapshot,
    TerminalStatus,
    TerminalStopAccepted,
)

TASK_ID = re.compile(r"^task_[0-9a-f]{32}$")


def snapshot(box: Box, terminal_id: str, **params: Any) -> dict[str, Any]:
    resp = box.terminal(terminal_id, params=params)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def ended(box: Box, terminal_id: str) -> dict[str, Any]:
    return dict(wait_for(lambda: (s := snapshot(box, terminal_id))["status"] != "running" and s))


def test_background_output_goes_to_a_file_the_files_api_reads(box: Box) -> None:
    started = box.background("echo from the background; echo and stderr >&2", session=False)
    assert TASK_ID.match(started.task_id) and started.pid > 0
    assert started.output_path == f"/workspace/.corral/tasks/{started.task_id}.log"
    log = box.root / started.output_path.removeprefix("/workspace/")

    def content() -> str:
        resp = box.http.get(
            f"/api/v1/sandboxes/{box.id}/files/content", params={"path": started.output_path}
        )
        return str(resp.json().get("content", "")) if resp.status_code == 200 else ""

    assert wait_for(lambda: "and stderr" in content())
    assert log.read_text() == "from the background\nand stderr\n"


def test_terminal_input_snapshot_and_stop(box: Box) -> None:
    marker = f"6{uuid.uuid4().int % 10**6:06d}"
    started = box.background(f'(sleep {marker} &); while read line; do echo "got:$line"; done')
    terminal = started.task_id

    accepted = send_terminal_input.sync(
        box.session_id,
        terminal,
        client=box.client,
        body=TerminalInputRequest(input_="hello", append_newline=True),
    )
    assert isinstance(accepted, TerminalInputAccepted)
    assert accepted.input_written is True and accepted.status == TerminalStatus.RUNNING
    assert accepted.input_writable is True

    wait_for(lambda: "got:hello" in snapshot(box, terminal)["output"])
    snap = get_terminal_snapshot.sync(box.session_id, terminal, client=box.client)
    assert isinstance(snap, TerminalSnapshot)
    assert snap.status == TerminalStatus.RUNNING and snap.pid == started.pid
    assert snap.output == "got:hello\n" and snap.encoding.value == "utf8"
    assert snap.truncated is False and snap.input_writable is True
    assert snap.output_path == started.output_path and snap.session_id == box.session_id
    assert running_with(f"sleep {marker}")

    stopped = stop_terminal.sync(box.session_id, terminal, client=box.client)
    assert isinstance(stopped, TerminalStopAccepted)
    assert stopped.stop_requested is True and stopped.status == TerminalStatus.STOPPED
    # The whole group is gone, the sleeper that left its parent included.
    wait_for(lambda: not group_members(started.pid) and not running_with(f"sleep {marker}"))

    again = stop_terminal.sync(box.session_id, terminal, client=box.client)
    assert isinstance(again, TerminalStopAccepted)
    assert again.stop_requested is False and again.status == TerminalStatus.STOPPED
    final = snapshot(box, terminal)
    assert final["status"] == "stopped" and final["inputWritable"] is False
    assert final["endedAt"] and final["exitCode"] == 128 + 15
    assert_error(
        box.terminal(terminal, "input", json={"input": "late"}), 409, "terminal_input_closed"
    )


def test_ended_commands_report_their_exit(box: Box) -> None:
    failed = box.background("echo bye; exit 2")
    completed = box.background("true")
    assert ended(box, failed.task_id)["status"] == "failed"
    assert snapshot(box, failed.task_id)["exitCode"] == 2
    assert ended(box, completed.task_id)["status"] == "completed"
    assert snapshot(box, completed.task_id)["exitCode"] == 0
    resp = box.terminal(failed.task_id, "stop")
    assert resp.status_code == 202 and resp.json()["stopRequested"] is False


def test_snapshot_returns_the_tail(box: Box) -> None:
    started = box.background("printf '0123456789'")
    assert ended(box, started.task_id)["output"] == "0123456789"
    tail = snapshot(box, started.task_id, maxBytes=4)
    assert tail["output"] == "6789" and tail["truncated"] is True


def test_snapshot_tail_never_starts_inside_a_character(box: Box) -> None:
    started = box.background("printf 'aéb'")  # é is 2 bytes: the last 3 bytes start inside it
    ended(box, started.task_id)
    tail = snapshot(box, started.task_id, maxBytes=2)
    assert (tail["output"], tail["encoding"]) == ("b", "utf8")


def test_binary_output_is_base64(box: Box) -> None:
    started = box.background("printf '\\377\\376'")
    snap = ended(box, started.task_id)
    assert (snap["output"], snap["encoding"]) == ("//4=", "base64")


def test_terminal_lookups_are_scoped_to_their_session(box: Box) -> None:
    started = box.background("sleep 0.1")
    other_session = box.http.post(f"/api/v1/workspaces/{box.id}/sessions", json={}).json()["id"]
    url = f"/api/v1/sessions/{other_session}/terminals/{started.task_id}"
    assert_error(box.http.get(url), 404, "terminal_not_found")
    assert_error(box.terminal("task_" + "0" * 32), 404, "terminal_not_found")
    assert_error(box.terminal("..."), 404, "terminal_not_found")
    assert_error(box.terminal(quote("task_..\\x", safe=""), "stop"), 404, "terminal_not_found")
    unknown = f"/api/v1/sessions/ses_{'0' * 32}/terminals/{started.task_id}"
    assert_error(box.http.get(unknown), 404, "session_not_found")
    # Without a session a background command is not a terminal at all.
    loose = box.background("sleep 0.1", session=False)
    assert_error(box.terminal(loose.task_id), 404, "terminal_not_found")


def test_background_session_must_exist_in_the_same_workspace(box: Box) -> None:
    body = {"command": "true", "sessionId": f"ses_{'0' * 32}"}
    assert_error(box.post("background", body), 404, "session_not_found")
    elsewhere = box.http.post("/api/v1/workspaces", json={"name": "other", "runtime": "default"})
    other_ws = elsewhere.json()["id"]
    other_session = box.http.post(f"/api/v1/workspaces/{other_ws}/sessions", json={}).json()
    body["sessionId"] = other_session["id"]
    assert_error(box.post("background", body), 409, "session_workspace_mismatch")


def test_background_refuses_what_foreground_refuses(box: Box) -> None:
    assert_error(
        box.post("background", {"command": "true", "cwd": "../.."}), 400, "invalid_sandbox_path"
    )
    assert_error(
        box.post("background", {"command": "true", "env": {"A=B": "x"}}), 400, "invalid_request"
    )
    assert_error(box.post("background", {"command": "a\u0000b"}), 400, "invalid_request")


def test_limits_and_shutdown(tmp_path: Path) -> None:
    """A server with small limits: the number of running tasks and the log size are capped,
    and stopping the server ends its tasks, which a restarted server reports as stopped."""
    marker = f"5{uuid.uuid4().int % 10**6:06d}"
    limits = {"sandbox_max_background_tasks": 2, "sandbox_task_log_bytes": 1000}
    with (
        serving(tmp_path, **limits) as served,
        httpx.Client(base_url=served.url) as http,
        Client(base_url=served.url) as client,
    ):
        box = new_box(served, http, client)
        chatty = box.background("head -c 5000 /dev/zero | tr '\\0' z")
        assert ended(box, chatty.task_id)["truncated"] is True
        assert (box.root / chatty.output_path.removeprefix("/workspace/")).stat().st_size == 1000
        sleepers = [box.background(f"sleep {marker}") for _ in range(2)]
        assert_error(box.post("background", {"command": "true"}), 409, "too_many_background_tasks")
        assert running_with(f"sleep {marker}")
    wait_for(lambda: not running_with(f"sleep {marker}"))
    assert all(not group_members(s.pid) for s in sleepers)

    with serving(tmp_path) as served, httpx.Client(base_url=served.url) as http:
        resp = http.get(f"/api/v1/sessions/{box.session_id}/terminals/{sleepers[0].task_id}")
        assert resp.json()["status"] == "stopped"


def test_one_workspace_cannot_take_every_background_slot(tmp_path: Path) -> None:
    """Per-workspace quota below the server's pool: a full workspace gets 409, another still
    starts; a task that outlives its maximum lifetime is stopped, and its slot comes back."""
    marker = f"6{uuid.uuid4().int % 10**6:06d}"
    limits = {
        "sandbox_max_background_tasks": 4,
        "sandbox_max_background_tasks_per_workspace": 2,
        "sandbox_background_max_seconds": 2,
    }
    with (
        serving(tmp_path, **limits) as served,
        httpx.Client(base_url=served.url) as http,
        Client(base_url=served.url) as client,
    ):
        greedy = new_box(served, http, client, "greedy")
        other = new_box(served, http, client, "other")
        hogs = [greedy.background(f"sleep {marker}") for _ in range(2)]
        refused = assert_error(
            greedy.post("background", {"command": "true"}), 409, "too_many_background_tasks"
        )
        assert refused["details"] == {"workspaceId": greedy.id}
        assert ended(other, other.background("true").task_id)["status"] == "completed"
        # The lifetime ends the hogs (stopped, whole group gone) and frees the workspace's slots.
        for hog in hogs:
            wait_for(lambda h=hog: snapshot(greedy, h.task_id)["status"] != "running")
            assert snapshot(greedy, hog.task_id)["status"] == "stopped"
            assert not group_members(hog.pid)
        assert not running_with(f"sleep {marker}")
        assert ended(greedy, greedy.background("true").task_id)["status"] == "completed"


@pytest.mark.asyncio
async def test_a_task_whose_end_was_never_recorded_is_unknown(tmp_path: Path) -> None:
    task_id = "task_" + uuid.uuid4().hex
    record = {
        "id": task_id,
        "workspace_id": "ws_x",
        "session_id": "ses_x",
        "command": "sleep 1",
        "description": None,
        "output_path": f"/workspace/.corral/tasks/{task_id}.log",
        "pid": 1234,
        "status": "running",
        "created_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T00:00:00+00:00",
        "ended_at": None,
        "exit_code": None,
        "signal": None,
        "output_truncated": False,
    }
    (tmp_path / f"{task_id}.json").write_text(json.dumps(record))
    registry = TaskRegistry(tmp_path, log_limit=100, max_running=1)
    found = await registry.get(task_id)
    assert found is not None and found.status == "unknown"
    assert await registry.stop(task_id) is False  # never signals a pid it did not start
    assert await registry.get("../" + task_id) is None
