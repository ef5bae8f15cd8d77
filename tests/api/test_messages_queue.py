"""Messages and the session queue (docs/contract.md#session-queue): delivery, interrupt,
cancel, guide, requeue, and reading the transcript by keyset page or around a message.

These servers execute no runs (tests/conftest.py), so a session's *active* run stays `queued`
and every move of the queue can be checked at leisure. What a worker's runs do to the queue
(running, failed, timed out) is checked where runs really execute:
tests/runs/test_queue_runtime.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from helpers import (
    assert_error,
    create_session,
    get_message,
    get_run,
    id_pattern,
    queue,
    queued_run_ids,
    run_status,
    send,
    steps,
    walk_pages,
)

from corral.testing.live_server import LiveServer
from corral.testing.outbox import replayed_events


@pytest.fixture
def server(shared_server: LiveServer) -> LiveServer:
    """Every test here works in a session (and workspace) of its own: share the server."""
    return shared_server


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def messages_path(session: dict[str, Any]) -> str:
    return f"/api/v1/sessions/{session['id']}/messages"


def post_message(api: httpx.Client, session: dict[str, Any], body: Any) -> httpx.Response:
    return api.post(messages_path(session), json=body)


def busy_session(api: httpx.Client, session: dict[str, Any], *texts: str) -> list[dict]:
    """Send `texts`: the first becomes the active run, the others wait in the queue."""
    sent = [send(api, session["id"], text) for text in texts]
    assert [s["delivery"] for s in sent] == ["active_run"] + ["session_queue"] * (len(texts) - 1)
    return sent


def cancel(api: httpx.Client, run_id: str) -> None:
    resp = api.post(f"/api/v1/runs/{run_id}/cancel")
    assert resp.status_code == 202, resp.text
    assert resp.json() == {"runId": run_id, "status": "cancellation_requested"}


def guide(api: httpx.Client, run_id: str) -> None:
    resp = api.post(f"/api/v1/runs/{run_id}/guide")
    assert resp.status_code == 202, resp.text
    assert resp.json() == {"runId": run_id, "status": "interrupt_requested"}


# -- sending --------------------------------------------------------------------------------


def test_first_message_becomes_the_active_run(api: httpx.Client, session: dict) -> None:
    resp = post_message(api, session, {"content": "  Run the tests.  "})
    assert resp.status_code == 202, resp.text
    accepted = resp.json()
    assert set(accepted) == {"messageId", "runId", "status", "delivery", "createdAt"}
    assert accepted["status"] == "queued" and accepted["delivery"] == "active_run"
    assert id_pattern("msg").match(accepted["messageId"])
    assert id_pattern("run").match(accepted["runId"])

    run = get_run(api, accepted["runId"])
    assert run["status"] == "queued"
    assert run["sessionId"] == session["id"]
    assert run["workspaceId"] == session["workspaceId"]
    assert run["triggerType"] == "message"
    assert run["triggerRef"] == accepted["messageId"]
    assert run["agentName"] == run["effectiveAgentName"] == "assistant"
    assert run["initiatorRef"] == "standalone:anonymous"

    message = get_message(api, session["id"], accepted["messageId"])
    assert message["role"] == "user"
    assert message["content"] == "Run the tests."  # trimmed
    assert message["origin"] == "user" and message["mode"] == "prompt"
    assert message["runId"] == accepted["runId"]
    assert ts(message["createdAt"]) == ts(accepted["createdAt"])
    assert queue(api, session["id"]) == []


def test_follow_ups_wait_in_the_queue_in_order(api: httpx.Client, session: dict) -> None:
    _, second, third = busy_session(api, session, "first", "second", "third")
    assert second["queuedPosition"] == 1 and third["queuedPosition"] == 2
    items = queue(api, session["id"])
    assert [(i["runId"], i["messageId"], i["content"], i["position"]) for i in items] == [
        (second["runId"], second["messageId"], "second", 1),
        (third["runId"], third["messageId"], "third", 2),
    ]
    assert ts(items[0]["createdAt"]) == ts(second["createdAt"])
    assert all(run_status(api, s["runId"]) == "queued" for s in (second, third))


def test_content_parts_are_accepted(api: httpx.Client, session: dict) -> None:
    parts = [{"type": "text", "text": "hi"}]
    resp = post_message(api, session, {"content": parts})
    assert resp.status_code == 202, resp.text
    message = get_message(api, session["id"], resp.json()["messageId"])
    assert message["content"] == parts
    queued = send(
        api, session["id"], [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    )
    assert queue(api, session["id"])[0] == {
        "runId": queued["runId"],
        "messageId": queued["messageId"],
        "content": "a\nb",
        "createdAt": queue(api, session["id"])[0]["createdAt"],
        "position": 1,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"content": ""},
        {"content": "   \n\t "},
        {"content": []},
        {"content": 42},
        {"content": None},
        {},
        {"content": [{"type": "video", "url": "x"}]},
        {"content": "hi", "runningRunBehavior": "later"},
    ],
    ids=str,
)
def test_invalid_message_is_400(api: httpx.Client, session: dict, body: Any) -> None:
    assert_error(post_message(api, session, body), 400, "invalid_request")
    assert api.get(f"/api/v1/sessions/{session['id']}/runs").json()["items"] == []


def test_reserved_metadata_keys_are_stripped(api: httpx.Client, session: dict) -> None:
    metadata = {
        "runtimeKind": "compact_summary",
        "origin": "engine",
        "mode": "task-notification",
        "source": "hook",
        "synthetic": True,
        "taskNotificationId": "t1",
        "delegatedX": 1,
        "delegatedBy": "someone",
        "ticket": "ABC-1",
        "nested": {"runtimeKind": "kept inside"},
    }
    accepted = send(api, session["id"], "hi", metadata=metadata)
    message = get_message(api, session["id"], accepted["messageId"])
    assert message["metadata"] == {"ticket": "ABC-1", "nested": {"runtimeKind": "kept inside"}}
    assert message["origin"] == "user" and message["mode"] == "prompt"


def test_only_reserved_metadata_leaves_none(api: httpx.Client, session: dict) -> None:
    accepted = send(api, session["id"], "hi", metadata={"origin": "engine"})
    assert "metadata" not in get_message(api, session["id"], accepted["messageId"])


def test_send_to_an_unknown_session_is_404(shared_api: httpx.Client) -> None:
    resp = shared_api.post("/api/v1/sessions/ses_missing/messages", json={"content": "hi"})
    assert_error(resp, 404, "session_not_found")


# -- interrupt ------------------------------------------------------------------------------


def test_interrupt_cancels_the_active_run_and_takes_its_place(
    api: httpx.Client, session: dict
) -> None:
    active, b, c = busy_session(api, session, "a", "b", "c")
    interrupt = send(api, session["id"], "now!", runningRunBehavior="interrupt")
    assert interrupt["delivery"] == "active_run"
    assert "queuedPosition" not in interrupt

    cancelled = get_run(api, active["runId"])
    assert cancelled["status"] == "cancelled"
    assert "cancelRequestedAt" in cancelled and "endedAt" in cancelled
    assert [s["name"] for s in steps(api, active["runId"])] == ["run.cancelled"]

    assert run_status(api, interrupt["runId"]) == "queued"
    assert queued_run_ids(api, session["id"]) == [b["runId"], c["runId"]]
    # the interrupting run is now the active one: the next message queues behind b and c
    assert send(api, session["id"], "d")["queuedPosition"] == 3


def test_interrupt_on_an_idle_session_is_a_plain_send(api: httpx.Client, session: dict) -> None:
    accepted = send(api, session["id"], "hi", runningRunBehavior="interrupt")
    assert accepted["delivery"] == "active_run"
    assert queue(api, session["id"]) == []


# -- cancel ---------------------------------------------------------------------------------


def test_cancel_of_a_pending_run_removes_it_and_renumbers(api: httpx.Client, session: dict) -> None:
    active, b, c, d = busy_session(api, session, "a", "b", "c", "d")
    cancel(api, c["runId"])
    run = get_run(api, c["runId"])
    assert run["status"] == "cancelled"
    assert "endedAt" in run
    assert queued_run_ids(api, session["id"]) == [b["runId"], d["runId"]]
    assert run_status(api, active["runId"]) == "queued"  # untouched


def test_cancel_of_the_active_run_dispatches_the_queue_head(
    api: httpx.Client, session: dict
) -> None:
    active, b, c = busy_session(api, session, "a", "b", "c")
    stamped = ts(get_message(api, session["id"], b["messageId"])["createdAt"])
    cancel(api, active["runId"])
    assert run_status(api, active["runId"]) == "cancelled"
    assert queued_run_ids(api, session["id"]) == [c["runId"]]
    assert run_status(api, b["runId"]) == "queued"
    restamped = ts(get_message(api, session["id"], b["messageId"])["createdAt"])
    assert restamped > stamped
    assert restamped > ts(c["createdAt"])
    # the transcript follows execution order: b now comes after c
    items = api.get(messages_path(session)).json()["items"]
    assert [m["content"] for m in items] == ["a", "c", "b"]
    # b is active now: a new message queues behind c
    assert send(api, session["id"], "d")["queuedPosition"] == 2


def test_cancel_of_the_last_run_leaves_an_idle_session(api: httpx.Client, session: dict) -> None:
    (only,) = busy_session(api, session, "a")
    cancel(api, only["runId"])
    assert run_status(api, only["runId"]) == "cancelled"
    assert send(api, session["id"], "again")["delivery"] == "active_run"


def test_cancel_of_a_cancelled_run_is_a_no_op(api: httpx.Client, session: dict) -> None:
    _, b = busy_session(api, session, "a", "b")
    cancel(api, b["runId"])
    before, events = get_run(api, b["runId"]), replayed_events(api, session["id"])
    assert events[-1]["event"] == "run.cancelled"
    cancel(api, b["runId"])
    assert get_run(api, b["runId"]) == before
    assert replayed_events(api, session["id"]) == events
    assert len(steps(api, b["runId"])) == 1


def test_cancel_of_an_unknown_run_is_404(shared_api: httpx.Client) -> None:
    assert_error(shared_api.post("/api/v1/runs/run_missing/cancel"), 404, "run_not_found")


# -- guide ----------------------------------------------------------------------------------


def test_guide_promotes_a_pending_run_and_dispatches_it(api: httpx.Client, session: dict) -> None:
    active, b, c, d = busy_session(api, session, "a", "b", "c", "d")
    guide(api, c["runId"])
    assert run_status(api, active["runId"]) == "cancelled"
    assert run_status(api, c["runId"]) == "queued"
    assert queued_run_ids(api, session["id"]) == [b["runId"], d["runId"]]
    assert send(api, session["id"], "e")["queuedPosition"] == 3


def test_guide_of_a_message_run_that_is_not_pending_is_a_no_op(
    api: httpx.Client, session: dict
) -> None:
    active, b = busy_session(api, session, "a", "b")
    guide(api, active["runId"])
    assert run_status(api, active["runId"]) == "queued"
    assert queued_run_ids(api, session["id"]) == [b["runId"]]


def test_guide_of_an_unknown_run_is_404(shared_api: httpx.Client) -> None:
    resp = shared_api.post("/api/v1/runs/run_missing/guide")
    assert_error(resp, 404, "queued_run_not_found")


# -- requeue --------------------------------------------------------------------------------


def requeue(api: httpx.Client, run_id: str) -> httpx.Response:
    return api.post(f"/api/v1/runs/{run_id}/requeue")


@pytest.mark.parametrize("status", ["queued", "cancelled"])
def test_requeue_of_a_run_that_did_not_fail_is_409(
    api: httpx.Client, session: dict, status: str
) -> None:
    (only,) = busy_session(api, session, "a")
    if status == "cancelled":
        cancel(api, only["runId"])
    error = assert_error(requeue(api, only["runId"]), 409, "run_requeue_invalid_status")
    assert error["details"]["status"] == status
    assert run_status(api, only["runId"]) == status


def test_requeue_of_an_unknown_run_is_404(shared_api: httpx.Client) -> None:
    assert_error(requeue(shared_api, "run_missing"), 404, "run_not_found")


@pytest.mark.parametrize(
    "body", [{"runIds": []}, {"runIds": ["run_x"] * 201}, {}, {"runIds": "run_x"}], ids=str
)
def test_batch_requeue_rejects_invalid_bodies(shared_api: httpx.Client, body: Any) -> None:
    assert_error(shared_api.post("/api/v1/runs/requeue", json=body), 400, "invalid_request")


# -- reading the transcript -----------------------------------------------------------------


@pytest.fixture
def five_messages(api: httpx.Client, session: dict) -> list[str]:
    return [send(api, session["id"], f"m{i}")["messageId"] for i in range(5)]


@pytest.mark.parametrize("page_size", [1, 2, 5, 200])
def test_forward_pages_walk_the_transcript_oldest_first(
    api: httpx.Client, session: dict, five_messages: list[str], page_size: int
) -> None:
    pages = walk_pages(api, messages_path(session), {"pageSize": page_size})
    assert [m["id"] for page in pages for m in page] == five_messages
    assert len(pages) == -(-5 // page_size)


@pytest.mark.parametrize("page_size", [1, 2, 5])
def test_backward_pages_walk_the_transcript_newest_first(
    api: httpx.Client, session: dict, five_messages: list[str], page_size: int
) -> None:
    params = {"pageSize": page_size, "direction": "backward"}
    pages = walk_pages(api, messages_path(session), params)
    assert [m["id"] for page in pages for m in page] == five_messages[::-1]


def test_messages_are_chronological(api: httpx.Client, session: dict, five_messages: list) -> None:
    items = api.get(messages_path(session)).json()["items"]
    stamps = [ts(m["createdAt"]) for m in items]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert [m["content"] for m in items] == [f"m{i}" for i in range(5)]


def test_undecodable_message_cursor_is_invalid_cursor(
    api: httpx.Client, session: dict, five_messages: list[str]
) -> None:
    for cursor in ("abc", "eyJ4IjoxfQ", "WzFd"):  # garbage, {"x":1}, [1]
        resp = api.get(messages_path(session), params={"cursor": cursor})
        error = assert_error(resp, 400, "invalid_cursor")
        assert error["details"] == {"cursor": cursor}


def test_message_cursor_outside_its_pattern_is_invalid_request(shared_api: httpx.Client) -> None:
    resp = shared_api.get("/api/v1/sessions/ses_x/messages", params={"cursor": "a+b/c="})
    assert_error(resp, 400, "invalid_request")


def test_message_context_around_an_anchor(
    api: httpx.Client, session: dict, five_messages: list[str]
) -> None:
    def context(index: int, **params: int) -> dict[str, Any]:
        path = f"{messages_path(session)}/{five_messages[index]}/context"
        resp = api.get(path, params=params)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["anchor"]["id"] == five_messages[index]
        return body

    def ids(messages: list[dict]) -> list[str]:
        return [m["id"] for m in messages]

    middle = context(2, before=1, after=1)
    assert ids(middle["before"]) == [five_messages[1]]
    assert ids(middle["after"]) == [five_messages[3]]
    assert middle["hasMoreBefore"] is True and middle["hasMoreAfter"] is True

    first = context(0, before=1, after=1)
    assert first["before"] == [] and first["hasMoreBefore"] is False
    assert first["hasMoreAfter"] is True

    last = context(4, before=2, after=1)
    assert ids(last["before"]) == five_messages[2:4]  # chronological
    assert last["after"] == [] and last["hasMoreAfter"] is False

    everything = context(2)  # 20 each way by default
    assert ids(everything["before"]) == five_messages[:2]
    assert ids(everything["after"]) == five_messages[3:]
    assert everything["hasMoreBefore"] is False and everything["hasMoreAfter"] is False


def test_message_of_another_session_is_404(
    api: httpx.Client, session: dict, five_messages: list[str]
) -> None:
    other = create_session(api, session["workspaceId"])
    for suffix in ("", "/context"):
        resp = api.get(f"/api/v1/sessions/{other['id']}/messages/{five_messages[0]}{suffix}")
        assert_error(resp, 404, "message_not_found")


@pytest.mark.parametrize("params", [{"before": 201}, {"after": -1}, {"before": "x"}], ids=str)
def test_context_bounds_are_validated(
    api: httpx.Client, session: dict, five_messages: list[str], params: dict
) -> None:
    resp = api.get(f"{messages_path(session)}/{five_messages[0]}/context", params=params)
    assert_error(resp, 400, "invalid_request")
