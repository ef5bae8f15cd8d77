"""Resources and the stored truth for the event-stream tests: sessions created and messages
sent over HTTP, and the session's events read straight from the server's SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sse_wire import SseReader

from corral.testing.outbox import stored_events as stored_events


def new_session(api: httpx.Client) -> str:
    ws = api.post("/api/v1/workspaces", json={"name": "events", "runtime": "default"})
    assert ws.status_code == 201, ws.text
    ses = api.post(f"/api/v1/workspaces/{ws.json()['id']}/sessions", json={})
    assert ses.status_code == 201, ses.text
    return str(ses.json()["id"])


def send(api: httpx.Client, session_id: str, content: str = "hello") -> str:
    """Send a message; returns its run id (`run.queued` and more events follow)."""
    resp = api.post(f"/api/v1/sessions/{session_id}/messages", json={"content": content})
    assert resp.status_code == 202, resp.text
    return str(resp.json()["runId"])


def last_cursor(data_dir: Path, session_id: str) -> int:
    events = stored_events(data_dir, session_id)
    return events[-1]["cursor"] if events else 0


def stream(base_url: str, session_id: str, **kwargs: Any) -> SseReader:
    """Open the session's stream; `params` and `headers` as for SseReader."""
    return SseReader(base_url, f"/api/v1/sessions/{session_id}/events", **kwargs)
