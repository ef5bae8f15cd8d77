"""Sessions: agent resolution on create, listing order, PATCH rules, deletion, sub-lists."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from helpers import (
    TIMESTAMP,
    assert_error,
    create_session,
    id_pattern,
    send,
    walk_pages,
)

from corral.testing.live_server import LiveServer


@pytest.fixture
def server(shared_server: LiveServer) -> LiveServer:
    """Every test here works in a session (and workspace) of its own: share the server."""
    return shared_server


def sessions_path(workspace: dict[str, Any]) -> str:
    return f"/api/v1/workspaces/{workspace['id']}/sessions"


def listed_ids(api: httpx.Client, workspace: dict[str, Any]) -> list[str]:
    resp = api.get(sessions_path(workspace))
    assert resp.status_code == 200
    return [s["id"] for s in resp.json()["items"]]


def patch(api: httpx.Client, session: dict[str, Any], body: Any) -> httpx.Response:
    return api.patch(f"/api/v1/sessions/{session['id']}", json=body)


# -- create ---------------------------------------------------------------------------------


def test_create_defaults_to_the_assistant(api: httpx.Client, workspace: dict[str, Any]) -> None:
    resp = api.post(sessions_path(workspace))  # no body at all
    assert resp.status_code == 201, resp.text
    session = resp.json()
    assert id_pattern("ses").match(session["id"])
    assert session["workspaceId"] == workspace["id"]
    assert session["agentName"] == session["activeAgentName"] == "assistant"
    assert session["status"] == "active"
    assert TIMESTAMP.match(session["createdAt"])
    for absent in ("title", "modelRef", "parentSessionId", "lastRunAt"):
        assert absent not in session
    assert api.get(f"/api/v1/sessions/{session['id']}").json() == session


def test_create_with_title_and_workspace_model(
    api: httpx.Client, workspace: dict[str, Any]
) -> None:
    session = create_session(api, workspace["id"], title="Fix it", modelRef="workspace/scripted")
    assert session["title"] == "Fix it"
    assert session["modelRef"] == "workspace/scripted"


def test_subagent_cannot_drive_a_session(api: httpx.Client, workspace: dict[str, Any]) -> None:
    resp = api.post(sessions_path(workspace), json={"agentName": "reviewer"})
    assert_error(resp, 409, "invalid_session_agent_target")


def test_unknown_agent_is_404(api: httpx.Client, workspace: dict[str, Any]) -> None:
    resp = api.post(sessions_path(workspace), json={"agentName": "ghost"})
    assert_error(resp, 404, "agent_not_found")


def test_unknown_workspace_model_is_404(api: httpx.Client, workspace: dict[str, Any]) -> None:
    resp = api.post(sessions_path(workspace), json={"modelRef": "workspace/nope"})
    error = assert_error(resp, 404, "model_not_found")
    assert "workspace/nope" in error["message"]


def test_malformed_model_ref_is_400(api: httpx.Client, workspace: dict[str, Any]) -> None:
    resp = api.post(sessions_path(workspace), json={"modelRef": "gpt-4"})
    assert_error(resp, 400, "invalid_request")


def test_create_in_an_unknown_workspace_is_404(shared_api: httpx.Client) -> None:
    resp = shared_api.post("/api/v1/workspaces/ws_missing/sessions", json={})
    assert_error(resp, 404, "workspace_not_found")


# -- list -----------------------------------------------------------------------------------


def test_list_is_newest_first_and_a_message_moves_a_session_up(
    api: httpx.Client, workspace: dict[str, Any]
) -> None:
    a, b, c = (create_session(api, workspace["id"], title=t) for t in "abc")
    assert listed_ids(api, workspace) == [c["id"], b["id"], a["id"]]
    send(api, a["id"])
    assert listed_ids(api, workspace) == [a["id"], c["id"], b["id"]]
    patch(api, b, {"title": "renamed"})
    assert listed_ids(api, workspace) == [b["id"], a["id"], c["id"]]


def test_list_pages(api: httpx.Client, workspace: dict[str, Any]) -> None:
    created = [create_session(api, workspace["id"])["id"] for _ in range(3)]
    pages = walk_pages(api, sessions_path(workspace), {"pageSize": 1})
    assert [s["id"] for page in pages for s in page] == created[::-1]


# -- patch ----------------------------------------------------------------------------------


def test_patch_title_and_active_agent(api: httpx.Client, session: dict[str, Any]) -> None:
    resp = patch(api, session, {"title": "Renamed", "activeAgentName": "assistant"})
    assert resp.status_code == 200, resp.text
    updated = resp.json()
    assert updated["title"] == "Renamed"
    assert updated["activeAgentName"] == "assistant"
    assert updated["updatedAt"] > session["updatedAt"]
    assert updated["createdAt"] == session["createdAt"]
    assert api.get(f"/api/v1/sessions/{session['id']}").json() == updated


@pytest.mark.parametrize(
    "body", [{}, {"title": ""}, {"title": "x" * 121}, {"colour": "red"}], ids=str
)
def test_invalid_patch_is_400(api: httpx.Client, session: dict[str, Any], body: Any) -> None:
    assert_error(patch(api, session, body), 400, "invalid_request")


def test_patch_to_a_subagent_is_409(api: httpx.Client, session: dict[str, Any]) -> None:
    assert_error(
        patch(api, session, {"activeAgentName": "reviewer"}), 409, "invalid_session_agent_target"
    )


def test_patch_to_an_unknown_agent_is_404(api: httpx.Client, session: dict[str, Any]) -> None:
    assert_error(patch(api, session, {"activeAgentName": "ghost"}), 404, "agent_not_found")


def test_model_can_change_before_the_first_run(api: httpx.Client, session: dict[str, Any]) -> None:
    resp = patch(api, session, {"modelRef": "workspace/scripted"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["modelRef"] == "workspace/scripted"
    resp = patch(api, session, {"modelRef": None})
    assert resp.status_code == 200, resp.text
    assert "modelRef" not in resp.json()


def test_model_is_locked_after_a_message(api: httpx.Client, session: dict[str, Any]) -> None:
    send(api, session["id"])
    error = assert_error(patch(api, session, {"modelRef": "workspace/scripted"}), 409)
    assert error["code"] == "session_model_locked"
    assert "modelRef" not in api.get(f"/api/v1/sessions/{session['id']}").json()
    # setting the model it already has is not a change
    assert patch(api, session, {"modelRef": None}).status_code == 200
    assert patch(api, session, {"title": "still editable"}).status_code == 200


def test_patch_of_an_unknown_session_is_404(shared_api: httpx.Client) -> None:
    resp = shared_api.patch("/api/v1/sessions/ses_missing", json={"title": "x"})
    assert_error(resp, 404, "session_not_found")


# -- delete and sub-lists -------------------------------------------------------------------


def test_delete_removes_the_session_its_messages_and_runs(
    api: httpx.Client, workspace: dict[str, Any]
) -> None:
    doomed, kept = create_session(api, workspace["id"]), create_session(api, workspace["id"])
    first, second = send(api, doomed["id"], "one"), send(api, doomed["id"], "two")
    kept_run = send(api, kept["id"])["runId"]
    resp = api.delete(f"/api/v1/sessions/{doomed['id']}")
    assert resp.status_code == 204 and resp.content == b""
    sid = doomed["id"]
    assert_error(api.get(f"/api/v1/sessions/{sid}"), 404, "session_not_found")
    assert_error(api.get(f"/api/v1/sessions/{sid}/messages"), 404, "session_not_found")
    assert_error(
        api.get(f"/api/v1/sessions/{sid}/messages/{first['messageId']}"), 404, "session_not_found"
    )
    for sent in (first, second):
        assert_error(api.get(f"/api/v1/runs/{sent['runId']}"), 404, "run_not_found")
    assert_error(api.delete(f"/api/v1/sessions/{sid}"), 404, "session_not_found")
    assert listed_ids(api, workspace) == [kept["id"]]
    assert api.get(f"/api/v1/runs/{kept_run}").status_code == 200


def test_children_of_a_top_level_session_are_empty(
    api: httpx.Client, session: dict[str, Any]
) -> None:
    resp = api.get(f"/api/v1/sessions/{session['id']}/children")
    assert resp.status_code == 200
    assert resp.json() == {"items": []}


def test_runs_are_listed_newest_first(api: httpx.Client, session: dict[str, Any]) -> None:
    sent = [send(api, session["id"], f"m{i}") for i in range(3)]
    resp = api.get(f"/api/v1/sessions/{session['id']}/runs")
    assert resp.status_code == 200
    runs = resp.json()["items"]
    assert [r["id"] for r in runs] == [s["runId"] for s in reversed(sent)]
    assert all(r["triggerType"] == "message" for r in runs)
    assert [r["triggerRef"] for r in runs] == [s["messageId"] for s in reversed(sent)]
    pages = walk_pages(api, f"/api/v1/sessions/{session['id']}/runs", {"pageSize": 2})
    assert [r["id"] for page in pages for r in page] == [r["id"] for r in runs]


def test_runs_of_a_new_session_are_empty(api: httpx.Client, session: dict[str, Any]) -> None:
    assert api.get(f"/api/v1/sessions/{session['id']}/runs").json() == {"items": []}
    assert api.get(f"/api/v1/sessions/{session['id']}/queue").json() == {"items": []}
