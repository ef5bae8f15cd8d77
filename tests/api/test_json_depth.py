"""Deeply nested JSON bodies: one nesting limit at the edge, a 400 beyond it at every depth,
nothing stored on a 400, and what was accepted at the limit reads back everywhere.

Depths are of the whole body (`{}` and `[]` count one level each, the body itself included).
Bodies are built as text: the client's own JSON encoder has a recursion limit too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from helpers import (
    JSON,
    assert_error,
    create_session,
    create_workspace,
    walk_pages,
)

from corral.http.json_body import MAX_DEPTH
from corral.testing.live_server import LiveServer
from corral.testing.outbox import replayed_events
from corral.testing.waiting import wait_for_run

DEPTHS = [3, 10, 63, MAX_DEPTH, MAX_DEPTH + 1, 100, 255, 256, 300, 990, 1023, 1024, 2000, 5000]


def nested(levels: int) -> str:
    """`levels` levels of objects, as JSON text."""
    return '{"v":' * levels + "1" + "}" * levels


def nested_value(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"v": value}
    return value


def message_body(depth: int) -> str:
    return '{"content":"hi","metadata":' + nested(depth - 1) + "}"


def workspace_body(depth: int) -> str:
    # body -> toolServers -> srv -> the rest
    return '{"name":"deep","runtime":"default","toolServers":{"srv":' + nested(depth - 2) + "}}"


def post(api: httpx.Client, path: str, text: str) -> httpx.Response:
    return api.post(path, content=text.encode(), headers=JSON)


@pytest.fixture
def server(shared_server: LiveServer) -> LiveServer:
    """Each test works in a session or counts workspaces of its own: share the server."""
    return shared_server


@pytest.mark.parametrize("depth", DEPTHS)
def test_message_metadata_deeper_than_the_limit_is_a_400_and_stores_nothing(
    api: httpx.Client, depth: int
) -> None:
    session_id = create_session(api, create_workspace(api)["id"])["id"]
    resp = post(api, f"/api/v1/sessions/{session_id}/messages", message_body(depth))
    if depth <= MAX_DEPTH:
        assert resp.status_code == 202, resp.text
        return
    assert "nest" in assert_error(resp, 400, "invalid_request")["message"]
    listed = api.get(f"/api/v1/sessions/{session_id}/messages")
    assert listed.status_code == 200 and listed.json()["items"] == [], listed.text
    assert replayed_events(api, session_id) == []


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_workspace_body_deeper_than_the_limit_is_a_400_and_creates_nothing(
    api: httpx.Client, depth: int
) -> None:
    def count() -> int:
        return sum(len(page) for page in walk_pages(api, "/api/v1/workspaces", {"pageSize": 200}))

    before = count()
    resp = post(api, "/api/v1/workspaces", workspace_body(depth))
    if depth <= MAX_DEPTH:
        assert resp.status_code == 201, resp.text
        return
    assert_error(resp, 400, "invalid_request")
    assert count() == before


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 990, 1023, 5000])
@pytest.mark.parametrize(
    "body",
    [
        lambda levels: "[" * levels + "]" * levels,  # the body itself: arrays
        lambda levels: '{"sessionId":"x","input":' + nested(levels - 1) + "}",  # any JSON
    ],
    ids=["bare-arrays", "action-input"],
)
def test_any_json_body_deeper_than_the_limit_is_a_400(
    api: httpx.Client, depth: int, body: Callable[[int], str]
) -> None:
    workspace_id = create_workspace(api)["id"]
    resp = post(api, f"/api/v1/workspaces/{workspace_id}/actions/list-files/runs", body(depth))
    assert_error(resp, 400, "invalid_request")
    sessions = api.get(f"/api/v1/workspaces/{workspace_id}/sessions")
    assert sessions.status_code == 200 and sessions.json()["items"] == [], sessions.text


def test_a_chunked_body_deeper_than_the_limit_is_a_400(api: httpx.Client) -> None:
    text = workspace_body(1023).encode()
    chunks = iter([text[:100], text[100:]])  # no Content-Length: sent chunked
    resp = api.post("/api/v1/workspaces", content=chunks, headers=JSON)
    assert_error(resp, 400, "invalid_request")


def test_metadata_at_the_limit_runs_and_reads_back_everywhere(
    start_server: Callable[..., Any],
) -> None:
    live = start_server(run_worker=True)  # the scripted model answers: every later step runs
    with live.client() as api:
        session_id = create_session(api, create_workspace(api)["id"])["id"]
        resp = post(api, f"/api/v1/sessions/{session_id}/messages", message_body(MAX_DEPTH))
        assert resp.status_code == 202, resp.text
        accepted = resp.json()
        run = wait_for_run(api, accepted["runId"])
        assert run["status"] == "completed", run

        metadata = nested_value(MAX_DEPTH - 1)
        listed = api.get(f"/api/v1/sessions/{session_id}/messages")
        assert listed.status_code == 200, listed.text
        sent = next(m for m in listed.json()["items"] if m["id"] == accepted["messageId"])
        assert sent["metadata"] == metadata
        one = api.get(f"/api/v1/sessions/{session_id}/messages/{accepted['messageId']}")
        assert one.status_code == 200 and one.json()["metadata"] == metadata, one.text

        events = api.get(f"/api/v1/sessions/{session_id}/events", params={"follow": "false"})
        assert events.status_code == 200, events.text
        assert "event: run.completed\n" in events.text
        steps = api.get(f"/api/v1/runs/{run['id']}/steps")
        assert steps.status_code == 200 and steps.json()["items"], steps.text


def test_a_workspace_at_the_limit_reads_back(api: httpx.Client) -> None:
    resp = post(api, "/api/v1/workspaces", workspace_body(MAX_DEPTH))
    assert resp.status_code == 201, resp.text
    workspace_id = resp.json()["id"]
    assert api.get(f"/api/v1/workspaces/{workspace_id}").status_code == 200
    catalog = api.get(f"/api/v1/workspaces/{workspace_id}/catalog")
    assert catalog.status_code == 200, catalog.text
