"""Resources and the stored truth for the event-stream tests: sessions created and messages
sent over HTTP, and the session's events read straight from the server's SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sse_wire import SseReader

from corral.testing.api_calls import new_session as new_session
from corral.testing.api_calls import send as send
from corral.testing.outbox import stored_events as stored_events


def last_cursor(data_dir: Path, session_id: str) -> int:
    events = stored_events(data_dir, session_id)
    return events[-1]["cursor"] if events else 0


def stream(base_url: str, session_id: str, **kwargs: Any) -> SseReader:
    """Open the session's stream; `params` and `headers` as for SseReader."""
    return SseReader(base_url, f"/api/v1/sessions/{session_id}/events", **kwargs)
