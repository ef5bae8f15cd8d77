"""The events a SQLite-backed server committed, read straight from its database file: what
tests compare the streams they receive against."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any


def stored_events(data_dir: Path, session_id: str) -> list[dict[str, Any]]:
    """The session's events as committed, in cursor order:
    `{cursor, runId, event, data, createdAt}`."""
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
