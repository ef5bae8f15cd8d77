"""`make bench-api`: GET /api/v1/sessions/{id} on Corral against a bare Starlette app serving
the same JSON, measured in one run under the same conditions, with their ratio.

Each server is one uvicorn worker (uvloop, httptools, no access log) pinned to CPU 0; wrk is
pinned to CPU 1 (one thread, 50 connections, 2 s warm-up, then 10 s measured).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "50")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if shutil.which("taskset") else command


def start(command: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(pinned(0, command), env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"server did not start: {command}")


def wrk(url: str, duration: str) -> tuple[float, float, float]:
    cmd = pinned(1, ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}", "--latency", url])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return rps, _latency(out, "50%"), _latency(out, "99%")


def _latency(out: str, pct: str) -> float:
    value, unit = re.search(rf"{pct}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(name: str, url: str) -> tuple[float, float, float]:
    wrk(url, "2s")  # warm-up: imports, caches, JIT-free but allocator-warm
    rps, p50, p99 = wrk(url, DURATION)
    print(f"{name:<18} {rps:>10,.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms", flush=True)
    return rps, p50, p99


def main() -> int:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    uvicorn = [
        str(Path(sys.executable).with_name("uvicorn")),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
        "--workers",
        "1",
    ]
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, CORRAL_DATA_DIR=tmp, CORRAL_LOG_LEVEL="warning")
        corral = start(
            [*uvicorn, "--factory", "corral.app:create_app", "--port", str(port)],
            env,
            f"{base}/healthz",
        )
        try:
            ws = httpx.post(
                f"{base}/api/v1/workspaces", json={"name": "bench", "runtime": "default"}
            )
            ws.raise_for_status()
            ses = httpx.post(
                f"{base}/api/v1/workspaces/{ws.json()['id']}/sessions", json={"title": "b"}
            )
            ses.raise_for_status()
            path = f"/api/v1/sessions/{ses.json()['id']}"
            body = httpx.get(base + path).content
            corral_figures = measure("corral", base + path)
        finally:
            corral.terminate()
            corral.wait(10)
        body_file = Path(tmp) / "body.json"
        body_file.write_bytes(body)
        port = free_port()
        bare_env = dict(os.environ, BENCH_BODY_FILE=str(body_file), PYTHONPATH=str(ROOT / "bench"))
        bare = start(
            [*uvicorn, "bare_app:app", "--port", str(port)],
            bare_env,
            f"http://127.0.0.1:{port}{path}",
        )
        try:
            bare_figures = measure("bare starlette", f"http://127.0.0.1:{port}{path}")
        finally:
            bare.terminate()
            bare.wait(10)
    print(f"ratio corral / bare: {corral_figures[0] / bare_figures[0]:.2f} (target >= 0.40)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
