"""The session event outbox: every queue change is announced by events written in the same
transaction, with per-session cursors 1, 2, 3, ... and the payloads of docs/contract.md#events,
as the session's event stream replays them to any client."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from helpers import (
    create_session,
    create_workspace,
    send,
)

from corral.testing.live_server import LiveServer
from corral.testing.outbox import replayed_events
from corral.testing.waiting import wait_for_run


@pytest.fixture
def server(shared_server: LiveServer) -> LiveServer:
    """Events are per session and every test has its own session: share the server."""
    return shared_server


def post(api: httpx.Client, path: str) -> None:
    resp = api.post(path)
    assert resp.status_code == 202, resp.text


def summary(events: list[dict[str, Any]], names: dict[str, str]) -> list[tuple]:
    """(event, run, action) per event, runs named by `names` (run id -> letter)."""
    return [(e["event"], names[e["data"]["runId"]], e["data"].get("action")) for e in events]


def assert_well_formed(events: list[dict[str, Any]], session_id: str) -> None:
    assert [e["cursor"] for e in events] == list(range(1, len(events) + 1))
    stamps = [datetime.fromisoformat(e["createdAt"].replace("Z", "+00:00")) for e in events]
    assert stamps == sorted(stamps)
    for event in events:
        data = event["data"]
        if event["event"] in ("run.queued", "run.cancelled"):
            status = event["event"].split(".")[1]
            core = {"runId": data["runId"], "sessionId": session_id, "status": status}
            assert {k: data[k] for k in core} == core
        elif event["event"] == "queue.updated":
            assert set(data) <= {"runId", "action", "items", "queuedPosition"}
            assert data["action"] in {"enqueued", "promoted", "dequeued", "removed"}
            for position, item in enumerate(data["items"], start=1):
                assert set(item) == {"runId", "messageId", "content", "createdAt", "position"}
                assert item["position"] == position
        else:
            raise AssertionError(f"unexpected event {event['event']}")


def items_of(event: dict[str, Any], names: dict[str, str]) -> list[str]:
    return [names[i["runId"]] for i in event["data"]["items"]]


def test_queue_flow_is_announced_in_order(api: httpx.Client, session: dict) -> None:
    sid = session["id"]
    a, b, c = (send(api, sid, text) for text in "abc")
    i = send(api, sid, "i", runningRunBehavior="interrupt")
    post(api, f"/api/v1/runs/{b['runId']}/cancel")  # pending
    post(api, f"/api/v1/runs/{i['runId']}/cancel")  # active: dispatches c
    names = {s["runId"]: n for s, n in ((a, "a"), (b, "b"), (c, "c"), (i, "i"))}

    events = replayed_events(api, sid)
    assert_well_formed(events, sid)
    assert summary(events, names) == [
        ("run.queued", "a", None),
        ("run.queued", "b", None),
        ("queue.updated", "b", "enqueued"),
        ("run.queued", "c", None),
        ("queue.updated", "c", "enqueued"),
        ("run.queued", "i", None),
        ("queue.updated", "i", "promoted"),
        ("run.cancelled", "a", None),
        ("queue.updated", "i", "dequeued"),
        ("queue.updated", "b", "removed"),
        ("run.cancelled", "b", None),
        ("run.cancelled", "i", None),
        ("queue.updated", "c", "dequeued"),
    ]
    queue_events = [e for e in events if e["event"] == "queue.updated"]
    assert [items_of(e, names) for e in queue_events] == [
        ["b"],  # b enqueued
        ["b", "c"],  # c enqueued
        ["i", "b", "c"],  # i promoted to the head
        ["b", "c"],  # i dequeued: it runs
        ["c"],  # b removed
        [],  # c dequeued
    ]
    assert [e["data"].get("queuedPosition") for e in queue_events] == [1, 2, 1, None, None, None]
    first = queue_events[0]["data"]["items"][0]
    assert first["content"] == "b" and first["messageId"] == b["messageId"]
    for event in events:
        if event["event"] in ("run.queued", "run.cancelled"):
            assert set(event["data"]) == {"runId", "sessionId", "status"}


def test_guide_is_announced(api: httpx.Client, session: dict) -> None:
    sid = session["id"]
    a, b, c = (send(api, sid, text) for text in "abc")
    post(api, f"/api/v1/runs/{c['runId']}/guide")
    names = {a["runId"]: "a", b["runId"]: "b", c["runId"]: "c"}
    events = replayed_events(api, sid)
    assert_well_formed(events, sid)
    assert summary(events, names)[5:] == [
        ("queue.updated", "c", "promoted"),
        ("run.cancelled", "a", None),
        ("queue.updated", "c", "dequeued"),
    ]
    assert items_of(events[5], names) == ["c", "b"]
    assert items_of(events[7], names) == ["b"]


def test_requeue_is_announced_with_recovery_fields(
    start_server: Callable[..., LiveServer],
) -> None:
    with start_server(run_worker=True, sandbox_isolation="none").client() as api:
        ws = create_workspace(api)
        hasty = "---\nname: hasty\nrunTimeoutSeconds: 0.5\n---\nBe quick.\n"
        agent = {"path": ".corral/agents/hasty.md", "content": hasty}
        written = api.put(f"/api/v1/sandboxes/{ws['id']}/files/content", json=agent)
        assert written.status_code in (200, 201), written.text
        sid = create_session(api, ws["id"], agentName="hasty")["id"]
        slow = [{"text": "never", "delayMs": 30_000}]
        run_id = send(api, sid, metadata={"script": slow})["runId"]
        assert wait_for_run(api, run_id)["status"] == "timed_out"
        post(api, f"/api/v1/runs/{run_id}/requeue")
        events = replayed_events(api, sid)
    assert [e["event"] for e in events[:4]] == [
        "run.queued",
        "run.started",
        "run.failed",
        "run.queued",
    ]
    assert events[2]["data"]["status"] == "timed_out"
    data = events[3]["data"]
    assert data["status"] == "queued"
    assert data["recoveredBy"] == "manual_operator_requeue"
    assert data["previousStatus"] == "timed_out"
    assert data["recoveryAttempt"] == 1
    assert data["recoveryState"] == "requeued"
    assert data["requestedBy"] == "standalone:anonymous"


def test_cursors_are_per_session(api: httpx.Client, session: dict) -> None:
    other = create_session(api, session["workspaceId"])
    for sid in (session["id"], other["id"], session["id"], other["id"]):
        send(api, sid)
    for sid in (session["id"], other["id"]):
        events = replayed_events(api, sid)
        assert_well_formed(events, sid)
        assert [e["cursor"] for e in events] == [1, 2, 3]


def test_rejected_requests_write_no_events(api: httpx.Client, session: dict) -> None:
    sid = session["id"]
    run_id = send(api, sid)["runId"]
    before = replayed_events(api, sid)
    assert api.post(f"/api/v1/sessions/{sid}/messages", json={"content": " "}).status_code == 400
    assert api.post(f"/api/v1/runs/{run_id}/requeue").status_code == 409
    assert api.post(f"/api/v1/runs/{run_id}/guide").status_code == 202  # not pending: no-op
    assert replayed_events(api, sid) == before


def test_a_deleted_session_has_no_event_stream(api: httpx.Client, session: dict) -> None:
    """Its stored events go with it: tests/store checks the rows (delete_session_tree)."""
    send(api, session["id"])
    assert replayed_events(api, session["id"])
    assert api.delete(f"/api/v1/sessions/{session['id']}").status_code == 204
    resp = api.get(f"/api/v1/sessions/{session['id']}/events", params={"follow": "false"})
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "session_not_found"
