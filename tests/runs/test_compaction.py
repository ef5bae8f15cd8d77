"""`POST /sessions/{id}/compact`: the session's model summarises the history; later runs see
the summary instead of the messages it covers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from runs_support import create_session, create_workspace, get_run, messages, send

from corral.testing.fake_openai import FakeOpenAI
from corral.testing.fake_provider import FakeReply
from corral.testing.waiting import wait_for, wait_for_run


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        yield fake


@pytest.fixture
def fake_and_api(runner: Callable[..., Any], fake: FakeOpenAI) -> Any:
    with runner().client() as api:
        api.timeout = httpx.Timeout(30)
        yield fake, api


def _compact(api: httpx.Client, session_id: str, **body: Any) -> httpx.Response:
    return api.post(f"/api/v1/sessions/{session_id}/compact", json=body)


def test_compaction_summarises_and_later_runs_see_only_the_summary(fake_and_api: Any) -> None:
    fake, api = fake_and_api
    ses = create_session(api, create_workspace(api)["id"])
    fake.reply("First answer about apples.", "Second answer about pears.")
    for text in ("tell me about apples", "and pears"):
        assert wait_for_run(api, send(api, ses["id"], text)["runId"])["status"] == "completed"
    fake.reply("- The user asked about apples and pears.")
    resp = _compact(api, ses["id"], instructions="Mention every fruit.")
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result["compacted"] is True and result["summarizedMessageCount"] == 4
    summary_request = fake.requests[-1].body
    assert "apples" in str(summary_request["messages"])
    assert "Mention every fruit." in str(summary_request["messages"][0]["content"])
    kinds = [
        (m["role"], (m.get("metadata") or {}).get("runtimeKind"))
        for m in messages(api, ses["id"])[-2:]
    ]
    assert kinds == [("system", "compact_boundary"), ("system", "compact_summary")]
    assert api.get(f"/api/v1/runs/{result['runId']}").json()["triggerRef"] == "compact"

    fake.reply("Noted.")
    assert wait_for_run(api, send(api, ses["id"], "what next?")["runId"])["status"] == "completed"
    after = fake.requests[-1].body["messages"]
    assert "The user asked about apples and pears." in str(after[0]["content"])
    assert "tell me about apples" not in str(after)
    assert [m["role"] for m in after[1:]] == ["user"]


def test_too_little_history_is_not_compacted(fake_and_api: Any) -> None:
    _, api = fake_and_api
    ses = create_session(api, create_workspace(api)["id"])
    resp = _compact(api, ses["id"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["compacted"] is False and resp.json()["reason"] == "insufficient_history"


def test_a_busy_session_cannot_be_compacted(fake_and_api: Any) -> None:
    fake, api = fake_and_api
    fake.reply(FakeReply(text="slow", initial_delay_s=30))
    ses = create_session(api, create_workspace(api)["id"])
    run_id = send(api, ses["id"], "slow one")["runId"]
    resp = _compact(api, ses["id"])
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "session_busy"
    api.post(f"/api/v1/runs/{run_id}/cancel")
    assert wait_for_run(api, run_id)["status"] == "cancelled"


def test_a_message_sent_during_compaction_runs_when_it_ends(
    runner: Callable[..., Any], fake: FakeOpenAI
) -> None:
    # No upkeep sweep within the test: only the end of the compaction can start the message.
    with runner(run_heartbeat_seconds=3600).client() as api:
        ses = _session_with_history(api)
        with _compacting(api, fake, ses["id"]) as result:
            sent = send(api, ses["id"], "meanwhile")
            assert sent["delivery"] == "session_queue"
        assert result["compacted"] is True
        assert wait_for_run(api, sent["runId"])["status"] == "completed"


def test_a_compaction_outliving_the_stale_timeout_is_not_recovered(
    start_server: Callable[..., Any], fake: FakeOpenAI, tmp_path: Path
) -> None:
    """The API process compacts; a worker sharing its database, quick to call a run abandoned,
    leaves the compaction alone: the API process keeps its heartbeat fresh."""
    data_dir, beat = tmp_path / "shared", {"run_heartbeat_seconds": 0.1}
    api_server = start_server(data_dir=data_dir, run_worker=False, **beat)
    start_server(
        data_dir=data_dir, run_worker=True, sandbox_isolation="none", run_stale_seconds=0.5, **beat
    )
    with api_server.client() as api:
        api.timeout = httpx.Timeout(30)
        ses = _session_with_history(api)
        with _compacting(api, fake, ses["id"], delay_s=2) as result:
            pass
        assert result["compacted"] is True
        assert get_run(api, result["runId"])["status"] == "completed"


def _session_with_history(api: httpx.Client) -> dict[str, Any]:
    ses = create_session(api, create_workspace(api)["id"])
    for text in ("one", "two"):
        assert wait_for_run(api, send(api, ses["id"], text)["runId"])["status"] == "completed"
    return ses


@contextmanager
def _compacting(
    api: httpx.Client, fake: FakeOpenAI, session_id: str, delay_s: float = 0
) -> Iterator[dict[str, Any]]:
    """Runs the block while the model writes the summary: it answers after `delay_s` and not
    before the block has ended. The compaction's result is filled in when the block ends."""
    result: dict[str, Any] = {}
    block_ended = threading.Event()

    def compact() -> None:
        with httpx.Client(base_url=api.base_url, timeout=60) as client:
            resp = _compact(client, session_id)
            result.update(resp.json(), httpStatus=resp.status_code)

    fake.reply(FakeReply(text="- what happened", initial_delay_s=delay_s, hold=block_ended))
    asked = len(fake.requests)
    compacting = threading.Thread(target=compact)
    compacting.start()
    try:
        wait_for(lambda: len(fake.requests) > asked)  # the summary was asked for
        yield result
    finally:
        block_ended.set()
        compacting.join(60)
    assert result.get("httpStatus") == 200, result
