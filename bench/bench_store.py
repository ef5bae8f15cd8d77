"""`make bench-store`: what the store's serialized writes cost, SQLite beside PostgreSQL.

Every write is one unit of work shaped like a journal step of a run: a run step and a session
event appended, the run's heartbeat updated (three statements). Each writer process works on a
session of its own, so nothing but the store's write serialization makes them wait for each
other. Printed per case: writes per second, all processes together, and the p50/p99 latency of
one write as its caller sees it (16 writes in flight per process).

- SQLite: one process (the default deployment), then 2 and 4 processes on one file.
- PostgreSQL (CORRAL_BENCH_POSTGRES_URL, default the local server): 1, 2 and 4 processes; then 1
  and 4 again with ``synchronous_commit=off`` for the session, the share of the WAL flush.
- Point reads (get_session) for scale: SQLite's inline read, PostgreSQL's reader-thread read.

A fresh database (file, or PostgreSQL database) per case; the PostgreSQL ones are dropped.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg

from corral.store import RunRecord, SessionRecord, Store, Tx, WorkspaceRecord, open_store

WRITES = 1500  # per process
IN_FLIGHT = 16  # per process
READS = 2000
ADMIN_URL = os.environ.get(
    "CORRAL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def seed(tx: Tx, tag: str) -> None:
    now = datetime.now(UTC)
    if tx.get_workspace("ws_bench") is None:
        tx.insert_workspace(
            WorkspaceRecord(id="ws_bench", name="b", root_path="/b", created_at=now, updated_at=now)
        )
    tx.insert_session(
        SessionRecord(
            id=f"ses_{tag}",
            workspace_id="ws_bench",
            subject_ref="bench",
            active_agent_name="a",
            created_at=now,
            updated_at=now,
        )
    )
    tx.insert_run(
        RunRecord(
            id=f"run_{tag}",
            workspace_id="ws_bench",
            session_id=f"ses_{tag}",
            trigger_type="message",
            effective_agent_name="a",
            status="running",
            created_at=now,
        )
    )


def step(tag: str, i: int) -> Callable[[Tx], None]:
    def unit(tx: Tx) -> None:
        now = datetime.now(UTC)
        tx.append_step(f"run_{tag}", step_type="model_call", status="completed", output={"i": i})
        tx.append_event(f"ses_{tag}", f"run_{tag}", "message.delta", {"delta": "x" * 40}, now)
        run = tx.get_run(f"run_{tag}")
        assert run is not None
        run.heartbeat_at = now
        tx.update_run(run)

    return unit


async def writer(url: str, tag: str) -> list[float]:
    """Open a store, seed this writer's session, say ready, and once told to go, time WRITES
    step writes."""
    store = open_store(url)
    await store.open()
    try:
        await store.write(lambda tx: seed(tx, tag))
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        latencies: list[float] = []
        queue = iter(range(WRITES))

        async def lane() -> None:
            for i in queue:
                began = time.perf_counter()
                await store.write(step(tag, i))
                latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(lane() for _ in range(IN_FLIGHT)))
        return latencies
    finally:
        await store.close()


def run_processes(url: str, processes: int) -> tuple[float, list[float]]:
    """`processes` writer processes started together; returns writes/s and all latencies."""
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", url, f"p{n}_{uuid.uuid4().hex[:6]}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(processes)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    began = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    latencies: list[float] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        latencies += [float(x) for x in out.split()]
        assert proc.returncode == 0
    wall = time.perf_counter() - began
    return processes * WRITES / wall, latencies


def with_database(admin: str, options: str = "") -> tuple[str, str]:
    name = f"corral_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    query = "options=" + quote(options) if options else ""
    return urlunsplit(urlsplit(admin)._replace(path="/" + name, query=query)), name


def drop(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def point_reads(url: str) -> float:
    store: Store = open_store(url)
    await store.open()
    try:
        await store.write(lambda tx: seed(tx, "reads"))
        began = time.perf_counter()
        for _ in range(READS):
            await store.read(lambda tx: tx.get_session("ses_reads"))
        return (time.perf_counter() - began) / READS * 1e6
    finally:
        await store.close()


def row(name: str, rate: float, latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return f"{name:<44} {rate:>9.0f} {q[49] * 1e3:>9.2f} {q[98] * 1e3:>9.2f}"


def main() -> None:
    print(f"{WRITES} writes per process, {IN_FLIGHT} in flight; load {os.getloadavg()[0]:.2f}")
    print(f"{'case':<44} {'writes/s':>9} {'p50 ms':>9} {'p99 ms':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 2, 4):
            url = f"sqlite://{tmp}/w{n}/corral.db"
            print(row(f"sqlite, {n} process(es)", *run_processes(url, n)), flush=True)
        sqlite_read = asyncio.run(point_reads(f"sqlite://{tmp}/r/corral.db"))
    cases = [(n, "") for n in (1, 2, 4)] + [(n, "-csynchronous_commit=off") for n in (1, 4)]
    for n, options in cases:
        url, name = with_database(ADMIN_URL, options)
        try:
            label = f"postgres, {n} process(es)" + (", synchronous_commit=off" if options else "")
            print(row(label, *run_processes(url, n)), flush=True)
        finally:
            drop(ADMIN_URL, name)
    url, name = with_database(ADMIN_URL)
    try:
        pg_read = asyncio.run(point_reads(url))
    finally:
        drop(ADMIN_URL, name)
    print(f"point read (get_session): sqlite {sqlite_read:.0f} us, postgres {pg_read:.0f} us")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        latencies = asyncio.run(writer(sys.argv[2], sys.argv[3]))
        print("\n".join(f"{x:.6f}" for x in latencies))
    else:
        main()
