"""`make bench-api`: GET /api/v1/sessions/{id} on Corral against a bare Starlette app serving
the same JSON, measured in one run under the same conditions, with their ratio.

Both servers are one uvicorn worker each (same flags: uvloop, httptools, no access log), both
pinned to CPU 0 and both up for the whole run (the one not being measured sits idle); wrk is
pinned to CPU 1 (one thread, 50 connections). The two are measured in alternating rounds
(Corral first, then the bare app first, ...) so drift in machine load hits both alike; each
round has a 2 s warm-up. The ratio reported is the median of the per-round ratios.

This is a read path: the request does no write and no fsync, so the figures are CPU-bound and
need no fsync measurement beside them; the load average is printed because it is what moves them.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from corral.testing.processes import pinned, ready, running

ROOT = Path(__file__).resolve().parent.parent
DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "50")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
UVICORN = str(Path(sys.executable).with_name("uvicorn"))
UVICORN_FLAGS = [
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--no-access-log",
    # info: uvicorn's "Uvicorn running on" line names the port it bound (`--port 0`); with no
    # access log, nothing is logged per request.
    "--log-level",
    "info",
    "--workers",
    "1",
]
UVICORN_LINE = re.compile(r"Uvicorn running on (?P<url>http://\S+)")

Figures = tuple[float, float, float]  # req/s, p50 ms, p99 ms


@contextmanager
def serving(args: list[str], env: dict[str, str], probe: str) -> Iterator[str]:
    """Run `uvicorn <args> --port 0` pinned to CPU 0; yield its base URL (from uvicorn's own
    line) once `probe` answers 200."""
    flags = [*UVICORN_FLAGS, *args, "--port", "0"]
    with running(*flags, env=env, program=UVICORN, cwd=ROOT, cpu=0) as server:
        yield ready(server, UVICORN_LINE, probe)


def wrk(url: str, duration: str) -> Figures:
    cmd = pinned(1, ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}", "--latency", url])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return rps, _latency(out, "50%"), _latency(out, "99%")


def _latency(out: str, pct: str) -> float:
    value, unit = re.search(rf"{pct}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(name: str, url: str) -> Figures:
    wrk(url, "2s")  # warm-up: imports, caches, allocator
    rps, p50, p99 = wrk(url, DURATION)
    print(f"  {name:<16} {rps:>9,.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:7.2f} ms", flush=True)
    return rps, p50, p99


def seed(base: str) -> tuple[str, bytes]:
    """One workspace and one session; returns the session's path and its JSON."""
    ws = httpx.post(f"{base}/api/v1/workspaces", json={"name": "bench", "runtime": "default"})
    ws.raise_for_status()
    ses = httpx.post(f"{base}/api/v1/workspaces/{ws.json()['id']}/sessions", json={"title": "b"})
    ses.raise_for_status()
    path = f"/api/v1/sessions/{ses.json()['id']}"
    return path, httpx.get(base + path).content


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    print(f"GET /api/v1/sessions/{{id}}: {ROUNDS} rounds of {DURATION}, {CONNECTIONS} connections")
    print("read path: no write, no fsync; CPU-bound figures. " + load(), flush=True)
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as tmp:
        env = dict(os.environ, CORRAL_DATA_DIR=tmp, CORRAL_LOG_LEVEL="warning")
        with serving(["--factory", "corral.app:create_app"], env, "/healthz") as corral:
            path, body = seed(corral)
            body_file = Path(tmp) / "body.json"
            body_file.write_bytes(body)
            bare_env = dict(env, BENCH_BODY_FILE=str(body_file), PYTHONPATH=str(ROOT / "bench"))
            with serving(["bare_app:app"], bare_env, path) as bare:
                if httpx.get(bare + path).content != body:
                    sys.exit("the bare app does not serve Corral's document")
                servers = [("corral", corral + path), ("bare starlette", bare + path)]
                runs: dict[str, list[Figures]] = {name: [] for name, _ in servers}
                for n in range(ROUNDS):
                    print(f"round {n + 1}", flush=True)
                    for name, url in servers if n % 2 == 0 else servers[::-1]:
                        runs[name].append(measure(name, url))
    ratios = [c[0] / b[0] for c, b in zip(runs["corral"], runs["bare starlette"], strict=True)]
    print("median of rounds:")
    for name, figures in runs.items():
        rps, p50, p99 = (statistics.median(f[i] for f in figures) for i in range(3))
        print(f"  {name:<16} {rps:>9,.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:7.2f} ms")
    print(f"ratio corral / bare per round: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(
        f"ratio corral / bare (median): {statistics.median(ratios):.2f} (target >= 0.40); " + load()
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
