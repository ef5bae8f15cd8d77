"""A session's events in the shapes tests compare: as a SQLite-backed server committed them,
read straight from its database file (the truth a stream is checked against), as
`GET /sessions/{id}/events?follow=false` replays them to any client, and as a live stream
delivers them.

The first two give `{cursor, event, data, createdAt}` per event, in cursor order; the stored
one adds `runId`, the column the run filter reads.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx


def stored_events(data_dir: Path, session_id: str) -> list[dict[str, Any]]:
    """The session's events as committed: `{cursor, runId, event, data, createdAt}`."""
    with closing(sqlite3.connect(data_dir / "corral.db", timeout=10)) as conn:
        rows = conn.execute(
            "SELECT cursor, run_id, event, data, created_at FROM session_events"
            " WHERE session_id = ? ORDER BY cursor",
            (session_id,),
        ).fetchall()
    return [
        {"cursor": c, "runId": r, "event": e, "data": json.loads(d), "createdAt": t}
        for c, r, e, d, t in rows
    ]


def replayed_events(client: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    """The session's events as its stream replays them: `{cursor, event, data, createdAt}`."""
    resp = client.get(f"/api/v1/sessions/{session_id}/events", params={"follow": "false"})
    assert resp.status_code == 200, resp.text
    events = []
    for block in resp.text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line and not line.startswith(":"):
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                fields[name] = f"{fields[name]}\n{value}" if name in fields else value
        if "data" in fields:
            events.append(
                {
                    "cursor": int(fields["id"]),
                    "event": fields["event"],
                    "data": json.loads(fields["data"]),
                    "createdAt": fields["createdAt"],
                }
            )
    return events


def streamed_until(
    stream: httpx.Response, last: str, deadline_s: float
) -> list[tuple[str, dict[str, Any]]]:
    """Read a live stream up to the first `last` event: `(event, data)` of each event seen."""
    end, seen, name = time.monotonic() + deadline_s, [], ""
    for line in stream.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            seen.append((name, json.loads(line[6:])))
            if name == last:
                return seen
        if time.monotonic() > end:
            break
    raise AssertionError(f"no {last} event; saw {[n for n, _ in seen]}")
