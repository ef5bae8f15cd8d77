"""Helpers of the runtime tests: servers that execute runs, and waiting for runs to end."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from corral.testing.outbox import stored_events

TERMINAL = {"completed", "failed", "cancelled", "timed_out"}
DEADLINE_S = 60  # a guard against hangs, not a speed expectation


def new_workspace(api: httpx.Client, name: str = "runs") -> dict[str, Any]:
    resp = api.post("/api/v1/workspaces", json={"name": name, "runtime": "default"})
    assert resp.status_code == 201, resp.text
    return resp.json()


def new_session(api: httpx.Client, workspace_id: str, **body: Any) -> dict[str, Any]:
    resp = api.post(f"/api/v1/workspaces/{workspace_id}/sessions", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def send(api: httpx.Client, session_id: str, content: Any = "hello", *,
         script: list[Any] | None = None, **extra: Any) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {"content": content, **extra}
    if script is not None:
        body["metadata"] = {"script": script}
    resp = api.post(f"/api/v1/sessions/{session_id}/messages", json=body)
    assert resp.status_code == 202, resp.text
    return resp.json()


def get_run(api: httpx.Client, run_id: str) -> dict[str, Any]:
    resp = api.get(f"/api/v1/runs/{run_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def wait_for(what: str, check: Callable[[], Any], deadline_s: float = DEADLINE_S) -> Any:
    end = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def wait_status(api: httpx.Client, run_id: str, *statuses: str) -> dict[str, Any]:
    wanted = set(statuses) or TERMINAL
    return wait_for(f"run {run_id} to be {sorted(wanted)}",
                    lambda: (run := get_run(api, run_id))["status"] in wanted and run)  # fmt: skip


def steps(api: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    resp = api.get(f"/api/v1/runs/{run_id}/steps", params={"pageSize": 200})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def messages(api: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    resp = api.get(f"/api/v1/sessions/{session_id}/messages", params={"pageSize": 200})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def write_file(api: httpx.Client, workspace_id: str, path: str, content: str) -> None:
    resp = api.put(f"/api/v1/sandboxes/{workspace_id}/files/content",
                   json={"path": path, "content": content})  # fmt: skip
    assert resp.status_code in (200, 201), resp.text


def read_file(api: httpx.Client, workspace_id: str, path: str) -> str | None:
    resp = api.get(f"/api/v1/sandboxes/{workspace_id}/files/content", params={"path": path})
    if resp.status_code == 404:
        return None
    assert resp.status_code == 200, resp.text
    return str(resp.json()["content"])


def part_types(msg: dict[str, Any]) -> list[str]:
    content = msg["content"]
    return ["text"] if isinstance(content, str) else [p["type"] for p in content]


def text_of(msg: dict[str, Any]) -> str:
    content = msg["content"]
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p["type"] == "text")


def server_events(server: Any, session_id: str) -> list[dict[str, Any]]:
    """The session's outbox as the server committed it."""
    return stored_events(server.settings.data_dir, session_id)


def replayed_events(api: httpx.Client, session_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) of the session's stream as GET .../events?follow=false serves it."""
    resp = api.get(f"/api/v1/sessions/{session_id}/events", params={"follow": "false"})
    assert resp.status_code == 200, resp.text
    frames = [dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
              for block in resp.text.split("\n\n")]  # fmt: skip
    return [(f["event"], json.loads(f["data"])) for f in frames if "data" in f]


def events_of(server: Any, session_id: str, run_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) of one run, in commit order."""
    return [(e["event"], e["data"]) for e in server_events(server, session_id)
            if e["runId"] == run_id]  # fmt: skip


def tool_results(api: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    """The outputs of the session's tool results, in order."""
    return [m["content"][0]["output"] for m in messages(api, session_id) if m["role"] == "tool"]


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, ended but not reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"
