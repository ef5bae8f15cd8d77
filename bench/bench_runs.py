"""`make bench-runs`: the run harness driven over HTTP, in one run.

A `corral serve` process (one worker, SQLite, scripted model) executes every run; this process
is the client. Completion is observed on each session's SSE stream (`run.completed`), so a
latency is "POST accepted → run.completed received", the whole harness round trip: queueing,
claim, model call, message and step writes, end of run, event delivery.

- 1 session × 50 messages, one after the other, with a zero-latency model: the harness
  overhead per run (target: p50 under 5 ms).
- 20 sessions × 10 messages, sessions in parallel: throughput and latency under load.
- 200 sessions × 1 message with a 500 ms model: runs of different sessions must overlap; the
  wall time is compared with the ideal of one model latency (target: within 1.5×).

Baseline, measured in the same run: the round trip of the POST alone (202 before the run
executes), i.e. what a client pays on this machine before any run work. Also printed: the
server's CPU time per run (user + system, from /proc), steadier than wall times on a shared
machine, and the cost of an fsync where the data dir lives. Every case runs with the data dir
on disk, then again on tmpfs (/dev/shm), a figure free of disk noise.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from bench_support import corral_server, cpu_seconds, fsync_ms

ROOT = Path(__file__).resolve().parent.parent
SLOW_MODEL_S = 0.5
SERIAL = 50  # messages of the one session
SESSIONS, EACH = 20, 10  # sessions in parallel, messages each
WIDE = 200  # sessions of one message each, with the slow model


ENDINGS = ("run.completed", "run.failed", "run.cancelled")


class Session:
    """A session with its event stream open: `run.started` and the run's ending resolve its
    futures (`started`, `ended`).

    The client is aiohttp: with hundreds of streams open, httpx's per-request cost made the
    client, not the server, the bottleneck of this benchmark."""

    def __init__(self, client: aiohttp.ClientSession, session_id: str) -> None:
        self.client = client
        self.id = session_id
        self.seen: dict[tuple[str, str], asyncio.Future[float]] = {}
        self.ready = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        url = f"/api/v1/sessions/{self.id}/events"
        async with self.client.get(url, timeout=aiohttp.ClientTimeout(total=None)) as resp:
            event = None
            async for raw in resp.content:
                line = raw.decode().rstrip("\n")
                if line.startswith(": connected"):
                    self.ready.set()
                elif line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event in (*ENDINGS, "run.started"):
                    run_id = json.loads(line[6:])["runId"]
                    moment = "started" if event == "run.started" else "ended"
                    self.when(moment, run_id).set_result(time.perf_counter())

    def when(self, moment: str, run_id: str) -> asyncio.Future[float]:
        """When the run `started` or `ended`, as seen on the stream."""
        key = (moment, run_id)
        return self.seen.setdefault(key, asyncio.get_running_loop().create_future())

    async def send(self, script: list[Any]) -> str:
        async with self.client.post(
            f"/api/v1/sessions/{self.id}/messages",
            json={"content": "go", "metadata": {"script": script}},
        ) as resp:
            resp.raise_for_status()
            run_id: str = (await resp.json())["runId"]
        return run_id

    async def run(self, script: list[Any]) -> tuple[float, float]:
        """(POST round trip, POST → run.completed) in seconds."""
        started = time.perf_counter()
        run_id = await self.send(script)
        accepted = time.perf_counter()
        completed = await asyncio.wait_for(self.when("ended", run_id), 120)
        return accepted - started, completed - started

    async def close(self) -> None:
        self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)


async def open_sessions(client: aiohttp.ClientSession, ws_id: str, n: int) -> list[Session]:
    async def one() -> Session:
        async with client.post(f"/api/v1/workspaces/{ws_id}/sessions", json={}) as resp:
            resp.raise_for_status()
            session = Session(client, (await resp.json())["id"])
        await asyncio.wait_for(session.ready.wait(), 60)
        return session

    return list(await asyncio.gather(*(one() for _ in range(n))))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(name: str, latencies: list[float], wall: float) -> None:
    ms = [v * 1000 for v in latencies]
    print(
        f"  {name:<26} {len(ms) / wall:8.1f} runs/s   p50 {pct(ms, 0.5):7.2f} ms"
        f"   p99 {pct(ms, 0.99):7.2f} ms"
    )


async def bench(base: str, pid: int) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base, connector=connector) as client:
        body = {"name": "bench", "runtime": "default"}
        async with client.post("/api/v1/workspaces", json=body) as resp:
            ws = (await resp.json())["id"]
        fast = ["ok"]

        warm = await open_sessions(client, ws, 1)
        for _ in range(10):
            await warm[0].run(fast)

        one = await open_sessions(client, ws, 1)
        t0, cpu0 = time.perf_counter(), cpu_seconds(pid)
        pairs = [await one[0].run(fast) for _ in range(SERIAL)]
        wall_one = time.perf_counter() - t0
        cpu_one = cpu_seconds(pid) - cpu0

        twenty = await open_sessions(client, ws, SESSIONS)

        async def ten(session: Session) -> list[tuple[float, float]]:
            return [await session.run(fast) for _ in range(EACH)]

        t0 = time.perf_counter()
        many = [p for ps in await asyncio.gather(*(ten(s) for s in twenty)) for p in ps]
        wall_twenty = time.perf_counter() - t0

        wide = await open_sessions(client, ws, WIDE)
        slow = [{"text": "ok", "delayMs": int(SLOW_MODEL_S * 1000)}]
        t0, cpu0 = time.perf_counter(), cpu_seconds(pid)
        await asyncio.gather(*(s.run(slow) for s in wide))
        wall_wide = time.perf_counter() - t0
        cpu_wide = cpu_seconds(pid) - cpu0

        for s in warm + one + twenty + wide:
            await s.close()

    post_p50 = statistics.median(p[0] for p in pairs) * 1000
    overhead_p50 = statistics.median(p[1] for p in pairs) * 1000
    line(f"1 session x {SERIAL} messages", [p[1] for p in pairs], wall_one)
    line(f"{SESSIONS} sessions x {EACH} messages", [p[1] for p in many], wall_twenty)
    print(
        f"  {f'{WIDE} sessions x 1 ({SLOW_MODEL_S * 1000:.0f} ms)':<26} wall {wall_wide:6.3f} s  "
        f"(ideal {SLOW_MODEL_S:.3f} s, ratio {wall_wide / SLOW_MODEL_S:.2f}, target <= 1.50)"
    )
    print(f"\nbaseline: POST round trip alone p50 {post_p50:.2f} ms")
    print(
        f"harness overhead per run p50 {overhead_p50:.2f} ms "
        f"({overhead_p50 / post_p50:.1f}x the POST alone; target < 5 ms)"
    )
    print(
        f"server CPU per run: {cpu_one / SERIAL * 1000:.2f} ms (1 x {SERIAL}), "
        f"{cpu_wide / WIDE * 1000:.2f} ms ({WIDE} x 1; {cpu_wide:.2f} s in all)"
    )
    print(f"load average {os.getloadavg()[0]:.2f}")


def main() -> int:
    """The data dir on disk, then on tmpfs: the second figure is free of disk noise."""
    for where, parent in (("disk", None), ("tmpfs", "/dev/shm")):
        if parent is not None and not Path(parent).is_dir():
            continue
        with (
            tempfile.TemporaryDirectory(prefix="corral-bench-runs-", dir=parent) as tmp,
            corral_server(Path(tmp), run_concurrency="512") as (base, pid),
        ):
            cost = f", a 4 KiB write+fsync there costs {fsync_ms(Path(tmp)):.2f} ms"
            print(f"scripted model, SQLite, one server process; data dir on {where}{cost}\n")
            asyncio.run(bench(base, pid))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
