"""Runs in a workspace imported read-only (`readOnly`): the agent reads it, and nothing a run
does changes it. Write, Edit and MultiEdit calls and every command (Bash, a hook, an action)
fail with `workspace_read_only` (an error result or a hook notice: the run goes on), and the
directory ends exactly as it began."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from runs_support import create_session, messages, send, server_events

from corral.testing.waiting import wait_for_run

AGENT = "---\nname: assistant\nmode: primary\n---\nYou help.\n"
HOOK = "handlerType: command\nevents: [run.completed]\ncommand: 'touch hooked'\n"
ACTION = "name: touch\ncommand: 'touch acted'\n"
CHANGES = [
    ("Write", {"file_path": "new.txt", "content": "x"}),
    ("Edit", {"file_path": "notes.txt", "old_string": "old", "new_string": "new"}),
    (
        "MultiEdit",
        {"file_path": "notes.txt", "edits": [{"old_string": "old", "new_string": "new"}]},
    ),
    ("Bash", {"command": "touch bashed"}),
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory an operator lets clients import from, holding its agent, a hook, an
    action and a note."""
    root = tmp_path / "projects" / "demo"
    for path, text in {
        ".corral/agents/assistant.md": AGENT,
        ".corral/hooks/audit.yaml": HOOK,
        ".corral/actions/touch.yaml": ACTION,
        "notes.txt": "old notes\n",
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


@pytest.fixture
def workspace(runner: Callable[..., Any], project: Path) -> tuple[Any, dict[str, Any]]:
    server = runner(workspace_roots=[project.parent])
    with server.client() as api:
        resp = api.post(
            "/api/v1/workspaces/import", json={"rootPath": str(project), "readOnly": True}
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["readOnly"] is True
        return server, resp.json()


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"" for p in root.rglob("*")
    }


def test_an_agent_reads_a_read_only_workspace_and_changes_nothing(
    workspace: tuple[Any, dict[str, Any]], project: Path
) -> None:
    server, ws = workspace
    before = snapshot(project)
    calls = [{"name": "Read", "input": {"file_path": "notes.txt"}}]
    calls += [{"name": name, "input": args} for name, args in CHANGES]
    with server.client() as api:
        ses = create_session(api, ws["id"])
        sent = send(api, ses["id"], "look", script=[{"toolCalls": calls}, "Looked."])
        assert wait_for_run(api, sent["runId"])["status"] == "completed"
        results = {
            m["content"][0]["toolName"]: m["content"][0]["output"]
            for m in messages(api, ses["id"])
            if m["role"] == "tool"
        }
    read = results.pop("Read")  # the calls ran in parallel: their results in any order
    assert read["type"] == "text" and "old notes" in read["value"], read
    assert sorted(results) == sorted(name for name, _ in CHANGES)
    assert all(r["type"] == "error-text" and "read-only" in r["value"] for r in results.values())
    events = server_events(server, ses["id"])
    failed = [
        (e["data"]["toolName"], e["data"]["errorCode"])
        for e in events
        if e["event"] == "tool.failed"
    ]
    assert sorted(failed) == sorted((name, "workspace_read_only") for name, _ in CHANGES)
    (notice,) = [e["data"] for e in events if e["event"] == "hook.notice"]
    assert (notice["hookName"], notice["errorCode"]) == ("audit", "hook_failed"), notice
    assert "read-only" in notice["errorMessage"], notice
    assert snapshot(project) == before


def test_an_action_in_a_read_only_workspace_fails_and_changes_nothing(
    workspace: tuple[Any, dict[str, Any]], project: Path
) -> None:
    server, ws = workspace
    before = snapshot(project)
    with server.client() as api:
        resp = api.post(f"/api/v1/workspaces/{ws['id']}/actions/touch/runs", json={"input": {}})
        assert resp.status_code == 202, resp.text
        run = wait_for_run(api, resp.json()["runId"])
    assert (run["status"], run["errorCode"]) == ("failed", "action_failed"), run
    assert "read-only" in run["errorMessage"], run
    assert snapshot(project) == before
