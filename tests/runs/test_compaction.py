"""`POST /sessions/{id}/compact`: the session's model summarises the history; later runs see
the summary instead of the messages it covers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from runs_support import messages, new_session, new_workspace, send, wait_status

from corral.testing.fake_openai import FakeOpenAI
from corral.testing.fake_provider import FakeReply


@pytest.fixture
def fake_and_api(runner: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    with FakeOpenAI() as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        with runner().client() as api:
            api.timeout = httpx.Timeout(30)
            yield fake, api


def _compact(api: httpx.Client, session_id: str, **body: Any) -> httpx.Response:
    return api.post(f"/api/v1/sessions/{session_id}/compact", json=body)


def test_compaction_summarises_and_later_runs_see_only_the_summary(fake_and_api: Any) -> None:
    fake, api = fake_and_api
    ses = new_session(api, new_workspace(api)["id"])
    fake.reply("First answer about apples.", "Second answer about pears.")
    for text in ("tell me about apples", "and pears"):
        assert wait_status(api, send(api, ses["id"], text)["runId"])["status"] == "completed"
    fake.reply("- The user asked about apples and pears.")
    resp = _compact(api, ses["id"], instructions="Mention every fruit.")
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result["compacted"] is True and result["summarizedMessageCount"] == 4
    summary_request = fake.requests[-1].body
    assert "apples" in str(summary_request["messages"])
    assert "Mention every fruit." in str(summary_request["messages"][0]["content"])
    kinds = [(m["role"], (m.get("metadata") or {}).get("runtimeKind")) for m in
             messages(api, ses["id"])[-2:]]  # fmt: skip
    assert kinds == [("system", "compact_boundary"), ("system", "compact_summary")]
    assert api.get(f"/api/v1/runs/{result['runId']}").json()["triggerRef"] == "compact"

    fake.reply("Noted.")
    assert wait_status(api, send(api, ses["id"], "what next?")["runId"])["status"] == "completed"
    after = fake.requests[-1].body["messages"]
    assert "The user asked about apples and pears." in str(after[0]["content"])
    assert "tell me about apples" not in str(after)
    assert [m["role"] for m in after[1:]] == ["user"]


def test_too_little_history_is_not_compacted(fake_and_api: Any) -> None:
    _, api = fake_and_api
    ses = new_session(api, new_workspace(api)["id"])
    resp = _compact(api, ses["id"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["compacted"] is False and resp.json()["reason"] == "insufficient_history"


def test_a_busy_session_cannot_be_compacted(fake_and_api: Any) -> None:
    fake, api = fake_and_api
    fake.reply(FakeReply(text="slow", initial_delay_s=30))
    ses = new_session(api, new_workspace(api)["id"])
    run_id = send(api, ses["id"], "slow one")["runId"]
    resp = _compact(api, ses["id"])
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "session_busy"
    api.post(f"/api/v1/runs/{run_id}/cancel")
    assert wait_status(api, run_id)["status"] == "cancelled"
