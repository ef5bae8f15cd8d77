"""What the benchmarks share: free ports, CPU pinning, and a `corral serve` process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from corral.testing.processes import clean_environ, free_port

ROOT = Path(__file__).resolve().parent.parent


def fsync_ms(directory: Path, rounds: int = 200) -> float:
    """The cost of a 4 KiB write + fsync in `directory`: what a disk-bound figure rests on."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    block = b"x" * 4096
    start = time.perf_counter()
    for _ in range(rounds):
        os.write(fd, block)
        os.fsync(fd)
    elapsed = time.perf_counter() - start
    os.close(fd)
    path.unlink()
    return elapsed / rounds * 1000


def pinned(cpu: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if shutil.which("taskset") else command


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@contextmanager
def corral_server(
    data_dir: Path, cpu: int | None = None, **settings: str
) -> Iterator[tuple[str, int]]:
    """`corral serve` on a free port (pinned to `cpu` if given), with no provider key and
    `CORRAL_<NAME>` settings; yields its base URL and pid once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "corral", "serve", "--port", str(port)]
    if cpu is not None:
        command = pinned(cpu, command)
    proc = subprocess.Popen(
        command, env=_environment(data_dir, settings), cwd=ROOT, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("corral serve did not start")
            time.sleep(0.05)
        yield base, proc.pid  # taskset execs the server: same pid
    finally:
        proc.terminate()
        proc.wait(30)


@contextmanager
def corral_worker(data_dir: Path, **settings: str) -> Iterator[int]:
    """`corral worker` on `data_dir` with `CORRAL_<NAME>` settings; yields its pid (it serves
    nothing to wait for: a first run proves it works)."""
    command = [sys.executable, "-m", "corral", "worker"]
    proc = subprocess.Popen(
        command, env=_environment(data_dir, settings), cwd=ROOT, stderr=subprocess.DEVNULL
    )
    try:
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(30)


def _environment(data_dir: Path, settings: dict[str, str]) -> dict[str, str]:
    env = clean_environ()
    env.update(
        CORRAL_DATA_DIR=str(data_dir), CORRAL_SANDBOX_ISOLATION="none", CORRAL_LOG_LEVEL="warning"
    )
    env.update({f"CORRAL_{name.upper()}": value for name, value in settings.items()})
    return env
