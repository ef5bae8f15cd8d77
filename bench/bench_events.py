"""`make bench-events`: the session event stream (SSE), in one run:

1. first-event latency with 1 connected reader, then with 500 readers of the same session:
   from the core stamping an event (its `createdAt`, taken inside the write transaction that
   commits it) to a reader's socket receiving the frame, for every live event of every reader;
2. how many idle streams one worker holds, and its RSS: 2,000 streams over 100 sessions, each
   proven alive by a keep-alive comment received while all of them are open.

The server is `corral serve` (uvloop, httptools, one process) pinned to CPU 0 with its data dir
in a temporary directory; the readers are raw asyncio sockets in this process, pinned to CPU 1,
so a client library's cost does not count against the server. Events come from messages sent
over HTTP (each becomes a run that the scripted model answers: `run.queued`, `run.started`,
`message.delta`, `message.completed`, `run.completed`). Server and client read the same clock.
Reported: p50/p99 per case, the 500/1 ratio, RSS before and after opening the idle streams,
and each figure against its target (p50 < 5 ms with one reader; 2,000 idle streams < 300 MB).
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
from bench_support import corral_server, rss_bytes

ROOT = Path(__file__).resolve().parent.parent
FANOUT = int(os.environ.get("BENCH_READERS", "500"))
IDLE = int(os.environ.get("BENCH_IDLE_STREAMS", "2000"))
IDLE_SESSIONS = 100
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "200"))
CREATED_AT = re.compile(rb"\ncreatedAt: ([^\n]+)\n")
PING_S = 3.0  # the server's keep-alive interval during this run: proves idle streams alive
# Every reader comes from this one process: lift the per-client connection cap above them.
PER_CLIENT = str(max(FANOUT, IDLE) + 100)
MiB = 1024 * 1024


class Reader(asyncio.Protocol):
    """One stream on a raw socket: records, per live event, receipt time minus `createdAt`."""

    def __init__(self, latencies: list[float], since: float) -> None:
        self.latencies = latencies
        self.since = since  # events stamped earlier are replayed history, not live delivery
        self.tail = b""
        self.connected = asyncio.get_running_loop().create_future()
        self.pinged = asyncio.Event()
        self.events = 0
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.time()
        text = self.tail + data
        cut = text.rfind(b"\n\n") + 2
        whole, self.tail = text[:cut], text[cut:]
        if not self.connected.done() and b": connected\n\n" in whole:
            self.connected.set_result(None)
        if b": ping\n\n" in whole:
            self.pinged.set()
        for stamp in CREATED_AT.findall(whole):
            created = datetime.fromisoformat(stamp.decode()).timestamp()
            self.events += 1
            if created >= self.since:
                self.latencies.append(now - created)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_reader(base: str, session_id: str, latencies: list[float], since: float) -> Reader:
    host, port = base.removeprefix("http://").split(":")
    loop = asyncio.get_running_loop()
    transport, reader = await loop.create_connection(
        lambda: Reader(latencies, since), host, int(port)
    )
    request = (
        f"GET /api/v1/sessions/{session_id}/events HTTP/1.1\r\nHost: {host}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    )
    transport.write(request.encode())
    await asyncio.wait_for(reader.connected, 60)
    return reader


async def new_sessions(api: httpx.AsyncClient, count: int) -> list[str]:
    ws = (await api.post("/api/v1/workspaces", json={"name": "bench", "runtime": "default"})).json()
    ids = []
    for _ in range(count):
        resp = await api.post(f"/api/v1/workspaces/{ws['id']}/sessions", json={})
        resp.raise_for_status()
        ids.append(resp.json()["id"])
    return ids


async def send(api: httpx.AsyncClient, session_id: str) -> None:
    resp = await api.post(f"/api/v1/sessions/{session_id}/messages", json={"content": "ping"})
    resp.raise_for_status()


async def latency_case(
    base: str, api: httpx.AsyncClient, readers: int, messages: int, every_s: float
) -> list[float]:
    """Open `readers` streams on a fresh session, send `messages`, one per `every_s`."""
    (session_id,) = await new_sessions(api, 1)
    latencies: list[float] = []
    opened = [await open_reader(base, session_id, latencies, time.time()) for _ in range(readers)]
    await send(api, session_id)  # warm-up: every reader is subscribed once it sees this
    while min(r.events for r in opened) == 0:
        await asyncio.sleep(0.01)
    await asyncio.sleep(1)
    latencies.clear()
    for _ in range(messages):
        await send(api, session_id)
        await asyncio.sleep(every_s)
    await asyncio.sleep(1)  # the last run's events
    for reader in opened:
        reader.close()
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, latencies: list[float]) -> tuple[float, float]:
    p50, p99 = pct(latencies, 0.50) * 1000, pct(latencies, 0.99) * 1000
    print(
        f"  {name:<22} p50 {p50:6.2f} ms   p99 {p99:7.2f} ms   ({len(latencies):,} deliveries)",
        flush=True,
    )
    return p50, p99


async def idle_case(base: str, pid: int, api: httpx.AsyncClient) -> tuple[int, int, float]:
    """RSS before and after opening IDLE streams, and a GET's round trip while they stay."""
    sessions = await new_sessions(api, IDLE_SESSIONS)
    await api.get("/healthz")
    before = rss_bytes(pid)
    started = time.time()
    readers = []
    for i in range(0, IDLE, 100):  # in batches: the listen backlog is finite
        batch = [
            open_reader(base, sessions[(i + j) % IDLE_SESSIONS], [], started)
            for j in range(min(100, IDLE - i))
        ]
        readers += await asyncio.gather(*batch)
    # Every stream answers with a keep-alive while all of them are open: all are alive.
    await asyncio.wait_for(asyncio.gather(*(r.pinged.wait() for r in readers)), 4 * PING_S + 60)
    after = rss_bytes(pid)
    t0 = time.perf_counter()
    (await api.get("/healthz")).raise_for_status()
    get_ms = (time.perf_counter() - t0) * 1000
    for reader in readers:
        reader.close()
    return before, after, get_ms


async def run() -> int:
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
        os.sched_setaffinity(0, {1})  # the readers, away from the server's CPU
    print(
        f"session event stream: {MESSAGES} messages per latency case; load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg()),
        flush=True,
    )
    server = functools.partial(
        corral_server,
        cpu=0,
        sse_ping_seconds=str(PING_S),
        http_max_connections_per_client=PER_CLIENT,
    )
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as tmp:
        with server(Path(tmp) / "latency") as (base, _):
            async with httpx.AsyncClient(base_url=base, timeout=60) as api:
                print("first-event latency (createdAt in the core -> frame at the reader):")
                one = report("1 reader", await latency_case(base, api, 1, MESSAGES, 0.05))
                fan = report(
                    f"{FANOUT} readers",
                    await latency_case(base, api, FANOUT, max(20, MESSAGES // 5), 0.25),
                )
        with server(Path(tmp) / "idle") as (base, pid):
            async with httpx.AsyncClient(base_url=base, timeout=60) as api:
                before, after, get_ms = await idle_case(base, pid, api)
    per_stream_kib = (after - before) / IDLE / 1024
    print(
        f"idle streams: {IDLE:,} open over {IDLE_SESSIONS} sessions, each pinged while all "
        f"stay open; a GET /healthz meanwhile took {get_ms:.1f} ms"
    )
    print(
        f"  RSS {before / MiB:.0f} MB before, {after / MiB:.0f} MB with the streams "
        f"({per_stream_kib:.1f} KiB per stream)"
    )
    print(
        f"ratio p50 {FANOUT} readers / 1 reader: {fan[0] / one[0]:.1f}; p99: {fan[1] / one[1]:.1f}"
    )
    latency_ok = "met" if one[0] < 5 else "MISSED"
    memory_ok = "met" if after < 300 * MiB else "MISSED"
    print(
        f"targets: p50 with 1 reader {one[0]:.2f} ms (< 5 ms: {latency_ok}); RSS with "
        f"{IDLE:,} idle streams {after / MiB:.0f} MB (< 300 MB: {memory_ok})"
    )
    return 0


def main() -> int:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
