"""Resuming a stream after a server restart: by `?cursor=` and by `Last-Event-ID`, the new
server sends exactly the events after that cursor (stored ones, then live ones), with no gap
and no duplicate."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from events_support import last_cursor, new_session, send, stored_events, stream

from corral.config import Settings
from corral.testing.live_server import live_server


@pytest.mark.parametrize(
    ("how", "resume"),
    [
        ("cursor", lambda n: {"params": {"cursor": str(n)}}),
        ("Last-Event-ID", lambda n: {"headers": {"Last-Event-ID": str(n)}}),
    ],
)
def test_resume_after_a_restart(tmp_path: Path, how: str, resume) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "data", validate_responses=True)

    with live_server(settings) as before, httpx.Client(base_url=before.url, timeout=10) as api:
        session_id = new_session(api)["id"]
        for text in ("one", "two", "three"):
            send(api, session_id, text)
        with stream(before.url, session_id) as reader:
            seen = reader.events(3)  # the client reads part of the history, then is cut off
    last_seen = seen[-1].cursor
    assert [b.cursor for b in seen] == [1, 2, 3]

    with (
        live_server(settings) as after,
        httpx.Client(base_url=after.url, timeout=10) as api,
        stream(after.url, session_id, **resume(last_seen)) as reader,
    ):
        send(api, session_id, "four")  # while the resumed stream replays or waits
        send(api, session_id, "five")
        through = last_cursor(settings.data_dir, session_id)
        resumed = reader.events_through(through)

    stored = stored_events(settings.data_dir, session_id)
    assert [b.cursor for b in resumed] == list(range(last_seen + 1, through + 1)), how
    assert [b.data for b in resumed] == [e["data"] for e in stored[last_seen:through]]
