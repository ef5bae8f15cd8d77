"""A session's events in the shapes tests compare: as the server committed them, read straight
from its database (the truth a stream is checked against), as
`GET /sessions/{id}/events?follow=false` replays them to any client, and as a live stream
delivers them.

The first two give `{cursor, event, data, createdAt}` per event, in cursor order; the stored
one adds `runId`, the column the run filter reads.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from contextlib import closing
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import psycopg

from corral.config import Settings
from corral.testing import postgres
from corral.testing.waiting import DEADLINE_S

_EVENTS = (
    "SELECT cursor, run_id, event, data, created_at FROM session_events"
    " WHERE session_id = {} ORDER BY cursor"
)


def stored_events(where: Settings | Path, session_id: str) -> list[dict[str, Any]]:
    """The session's events as committed: `{cursor, runId, event, data, createdAt}`. `where`
    is the server's settings, or its data directory (whose database is the SQLite file there,
    or its schema of the tests' PostgreSQL database: testing/postgres.py)."""
    if isinstance(where, Settings):
        url = where.store_url
    else:
        url = "" if postgres.server_schemas is None else postgres.server_schemas.url_for(where)
    if url.startswith(("postgresql:", "postgres:")):
        with psycopg.connect(url) as pg:
            stored = pg.execute(_EVENTS.format("%s"), (session_id,)).fetchall()
        rows = [(c, r, e, d, _iso(t)) for c, r, e, d, t in stored]
    else:
        data_dir = where.data_dir if isinstance(where, Settings) else where
        with closing(sqlite3.connect(data_dir / "corral.db", timeout=10)) as conn:
            found = conn.execute(_EVENTS.format("?"), (session_id,)).fetchall()
        rows = [(c, r, e, json.loads(d), t) for c, r, e, d, t in found]
    return [
        {"cursor": c, "runId": r, "event": e, "data": d, "createdAt": t} for c, r, e, d, t in rows
    ]


def _iso(at: Any) -> str:
    """A timestamptz as SQLite stores it (and the stream shows it): microseconds and Z."""
    return str(at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


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


Frame = tuple[str, str, dict[str, Any]]  # id, event, data


def frames_until(lines: Iterable[str], last: str, deadline_s: float = DEADLINE_S) -> list[Frame]:
    """SSE frames up to and including the first `last` event, read from a stream's (or a
    replay's) lines within the deadline (checked at every line: keep-alives keep coming)."""
    end, frames, frame = time.monotonic() + deadline_s, [], {}
    for line in lines:
        if time.monotonic() > end:
            break
        if line:
            name, _, value = line.partition(": ")
            frame[name] = value
            continue
        if "event" in frame:
            frames.append((frame.get("id", ""), frame["event"], json.loads(frame["data"])))
            if frame["event"] == last:
                return frames
        frame = {}
    raise AssertionError(f"no {last} event; saw {[event for _, event, _ in frames]}")


def streamed_until(
    stream: httpx.Response, last: str, deadline_s: float = DEADLINE_S
) -> list[tuple[str, dict[str, Any]]]:
    """Read a live stream up to the first `last` event: `(event, data)` of each event seen."""
    return [(event, data) for _, event, data in frames_until(stream.iter_lines(), last, deadline_s)]
