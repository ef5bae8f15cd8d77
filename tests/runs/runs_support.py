"""Helpers of the runtime tests: runs and their steps, messages and events; the resources and
calls every test directory shares come from `corral.testing.api_calls`."""

from __future__ import annotations

from typing import Any

import httpx

from corral.process_identity import read_stat
from corral.testing.api_calls import create_session as create_session
from corral.testing.api_calls import create_workspace as create_workspace
from corral.testing.api_calls import get_run as get_run
from corral.testing.api_calls import send as send
from corral.testing.outbox import replayed_events as replayed
from corral.testing.outbox import stored_events


def steps(api: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    resp = api.get(f"/api/v1/runs/{run_id}/steps", params={"pageSize": 200})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def messages(api: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    resp = api.get(f"/api/v1/sessions/{session_id}/messages", params={"pageSize": 200})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def write_file(api: httpx.Client, workspace_id: str, path: str, content: str) -> None:
    resp = api.put(
        f"/api/v1/sandboxes/{workspace_id}/files/content", json={"path": path, "content": content}
    )
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
    return stored_events(server.settings, session_id)


def replayed_events(api: httpx.Client, session_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) of the session's stream as GET .../events?follow=false serves it."""
    return [(e["event"], e["data"]) for e in replayed(api, session_id)]


def events_of(server: Any, session_id: str, run_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) of one run, in commit order."""
    return [
        (e["event"], e["data"]) for e in server_events(server, session_id) if e["runId"] == run_id
    ]


def tool_results(api: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    """The outputs of the session's tool results, in order."""
    return [m["content"][0]["output"] for m in messages(api, session_id) if m["role"] == "tool"]


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, ended but not reaped, does not)."""
    stat = read_stat(pid)
    return stat is not None and stat.state != b"Z"
