"""`make bench-split`: a split deployment (an API process that only queues runs, `run_worker:
false`, and one `corral worker`) on one SQLite file, without and with Redis, beside one
process, in one run.

Without Redis, the worker learns of a queued run, and the API process of the events the worker
commits, by polling the database (`sse_foreign_poll_seconds`, 0.25 s): up to two polling hops
per run. With Redis (`redis_url`) both are notifications. Each deployment is measured as
bench_runs measures it (this process is the client; completion is seen on the session's SSE
stream, read from the API process), with the scripted model:

- 1 session x 50 messages, one after the other, a zero-latency model: serial runs/s, and
  p50/p99 of POST accepted -> `run.completed` received;
- 20 sessions x 10 messages, sessions in parallel: runs/s and p50;
- 10 cancels through the API process of a run executing (`run.started` seen): p50 of POST
  cancel -> `run.cancelled` received;
- CPU time per run of all the deployment's processes together (the 1 x 50 case).

The data dir is on tmpfs where there is one (free of disk noise). Redis is `BENCH_REDIS_URL`
(default redis://127.0.0.1:6379/0), under a prefix of this run's own; unreachable, the Redis
deployments are left out. No target: the figures are for the README and the report.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import aiohttp
import redis
from bench_runs import EACH, SERIAL, SESSIONS, Session, open_sessions, pct
from bench_support import corral_server, corral_worker, cpu_seconds

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
CANCELS = 10
NEVER_ENDS = [{"text": "never", "delayMs": 600_000}]
Figures = dict[str, float]


@contextmanager
def deployment(
    data: Path, split: bool, redis_prefix: str | None
) -> Iterator[tuple[str, list[int]]]:
    """The deployment's base URL and the pids of its processes."""
    settings = {"run_concurrency": "512"}
    if redis_prefix is not None:
        settings.update(redis_url=REDIS_URL, redis_prefix=redis_prefix)
    with ExitStack() as stack:
        run_worker = "false" if split else "true"
        base, api = stack.enter_context(corral_server(data, run_worker=run_worker, **settings))
        pids = [api]
        if split:
            pids.append(stack.enter_context(corral_worker(data, **settings)))
        yield base, pids


async def bench(base: str, pids: list[int]) -> Figures:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base, connector=connector) as client:
        body = {"name": "bench", "runtime": "default"}
        async with client.post("/api/v1/workspaces", json=body) as resp:
            ws = (await resp.json())["id"]
        fast = ["ok"]

        warm = await open_sessions(client, ws, 1)
        for _ in range(10):  # a worker proves it is up by executing these
            await warm[0].run(fast)

        one = await open_sessions(client, ws, 1)
        t0, cpu0 = time.perf_counter(), sum(map(cpu_seconds, pids))
        serial = [(await one[0].run(fast))[1] for _ in range(SERIAL)]
        wall_serial = time.perf_counter() - t0
        cpu_serial = sum(map(cpu_seconds, pids)) - cpu0

        twenty = await open_sessions(client, ws, SESSIONS)

        async def ten(session: Session) -> list[float]:
            return [(await session.run(fast))[1] for _ in range(EACH)]

        t0 = time.perf_counter()
        many = [lat for lats in await asyncio.gather(*(ten(s) for s in twenty)) for lat in lats]
        wall_many = time.perf_counter() - t0

        cancelled = await open_sessions(client, ws, 1)
        cancels = [await cancel_one(client, cancelled[0]) for _ in range(CANCELS)]

        for s in warm + one + twenty + cancelled:
            await s.close()
    return {
        "serial_rps": SERIAL / wall_serial,
        "serial_p50": pct(serial, 0.5) * 1000,
        "serial_p99": pct(serial, 0.99) * 1000,
        "many_rps": len(many) / wall_many,
        "many_p50": pct(many, 0.5) * 1000,
        "cancel_p50": statistics.median(cancels) * 1000,
        "cpu_per_run": cpu_serial / SERIAL * 1000,
    }


async def cancel_one(client: aiohttp.ClientSession, session: Session) -> float:
    run_id = await session.send(NEVER_ENDS)
    await asyncio.wait_for(session.when("started", run_id), 60)
    asked = time.perf_counter()
    async with client.post(f"/api/v1/runs/{run_id}/cancel") as resp:
        resp.raise_for_status()
    return await asyncio.wait_for(session.when("ended", run_id), 60) - asked


def redis_reachable() -> bool:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return bool(client.ping())
    except redis.RedisError as exc:
        print(f"Redis at {REDIS_URL} unreachable ({exc}): the Redis deployments are left out\n")
        return False
    finally:
        client.close()


def main() -> int:
    prefix = f"bench-split-{os.getpid()}:"
    cases = [("one process", False, None), ("API + worker, polling", True, None)]
    if redis_reachable():
        cases += [("one process, Redis", False, prefix), ("API + worker, Redis", True, prefix)]
    parent = "/dev/shm" if Path("/dev/shm").is_dir() else None
    rows = []
    for name, split, redis_prefix in cases:
        with (
            tempfile.TemporaryDirectory(prefix="corral-bench-split-", dir=parent) as tmp,
            deployment(Path(tmp), split, redis_prefix) as (base, pids),
        ):
            rows.append((name, asyncio.run(bench(base, pids))))
    if len(cases) > 2:
        client = redis.Redis.from_url(REDIS_URL)
        if keys := list(client.scan_iter(f"{prefix}*")):
            client.delete(*keys)
        client.close()

    where = "tmpfs" if parent else "disk"
    print(f"scripted model, SQLite (data dir on {where}), run_concurrency 512\n")
    print(
        f"{'deployment':<24} {'1x50 runs/s':>11} {'p50 ms':>8} {'p99 ms':>8}   "
        f"{'20x10 runs/s':>12} {'p50 ms':>8}   {'cancel p50 ms':>13}   {'CPU ms/run':>10}"
    )
    for name, f in rows:
        print(
            f"{name:<24} {f['serial_rps']:11.1f} {f['serial_p50']:8.2f} {f['serial_p99']:8.2f}   "
            f"{f['many_rps']:12.1f} {f['many_p50']:8.2f}   {f['cancel_p50']:13.2f}   "
            f"{f['cpu_per_run']:10.2f}"
        )
    print(f"\nload average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
