"""Runs claimed by several worker processes at once sharing one database, on every backend: each
run is claimed by exactly one process, and a session's runs execute strictly one after the other
in queue order, whichever processes take them (the database serializes the claims)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from store_factories import run, session

from corral.core.runs import queue
from corral.store import Store, Tx

WORKERS = 4
SESSIONS = 6
RUNS_PER_SESSION = 5


async def test_each_run_is_claimed_once_and_a_sessions_runs_stay_serial(
    seeded: Store, database_url: str
) -> None:
    def place_all(tx: Tx) -> None:
        for s in range(SESSIONS):
            tx.insert_session(session(f"ses_s{s}"))
            for n in range(RUNS_PER_SESSION):
                queue.place(tx, run(f"run_{s}_{n}", f"ses_s{s}", t=n))

    await seeded.write(place_all)
    script = Path(__file__).with_name("claim_worker.py")
    workers = [
        subprocess.Popen([sys.executable, str(script), database_url, f"worker_{i}"])
        for i in range(WORKERS)
    ]
    for worker in workers:
        assert worker.wait(timeout=120) == 0

    def outcome(tx: Tx) -> tuple[dict[str, tuple[str, int]], dict[str, list[tuple[str, str]]]]:
        runs = {
            r.id: (
                r.status,
                len([s for s in tx.list_steps(r.id, 0, 100) if s.name == "run.started"]),
            )
            for r in tx.runs_by_status(["queued", "running", "completed"], 1000)
        }
        lives = {
            f"ses_s{s}": [
                (e.event, e.data["runId"])
                for e in tx.list_events(f"ses_s{s}", 0, 1000)
                if e.event in ("run.started", "run.completed")
            ]
            for s in range(SESSIONS)
        }
        return runs, lives

    runs, lives = await seeded.read(outcome)
    assert runs == {
        f"run_{s}_{n}": ("completed", 1) for s in range(SESSIONS) for n in range(RUNS_PER_SESSION)
    }
    for s in range(SESSIONS):
        in_order = [f"run_{s}_{n}" for n in range(RUNS_PER_SESSION)]
        assert lives[f"ses_s{s}"] == [
            (event, run_id) for run_id in in_order for event in ("run.started", "run.completed")
        ]
