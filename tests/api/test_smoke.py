from __future__ import annotations

import httpx


def test_workspace_session_message_flow(api: httpx.Client) -> None:
    ws = api.post("/api/v1/workspaces", json={"name": "demo", "runtime": "default"})
    assert ws.status_code == 201, ws.text
    ses = api.post(f"/api/v1/workspaces/{ws.json()['id']}/sessions", json={"title": "first"})
    assert ses.status_code == 201, ses.text
    sent = api.post(f"/api/v1/sessions/{ses.json()['id']}/messages", json={"content": "hi"})
    assert sent.status_code == 202, sent.text
    assert sent.json()["delivery"] == "active_run"
    run = api.get(f"/api/v1/runs/{sent.json()['runId']}")
    assert run.json()["status"] == "queued"
