"""What the benchmarks share: the disk's fsync cost, a process's CPU time and memory, and a
`corral serve` process (`corral.testing.processes.serving`, on a port the kernel picks)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from corral.testing.processes import clean_environ, running, serving

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
    """`corral serve` (pinned to `cpu` if given), with no provider key and `CORRAL_<NAME>`
    settings; yields its base URL and pid once it answers."""
    with serving(env=_environment(data_dir, settings), cwd=ROOT, cpu=cpu) as (base, server):
        yield base, server.popen.pid  # taskset execs the server: same pid


@contextmanager
def corral_worker(data_dir: Path, **settings: str) -> Iterator[int]:
    """`corral worker` on `data_dir` with `CORRAL_<NAME>` settings; yields its pid once it
    executes runs (and, given a `redis_url`, has linked to Redis)."""
    env = _environment(data_dir, {"log_level": "info", **settings})
    with running("worker", env=env, cwd=ROOT) as worker:
        worker.expect("linked to Redis" if "redis_url" in settings else "executing runs")
        yield worker.popen.pid


def _environment(data_dir: Path, settings: dict[str, str]) -> dict[str, str]:
    defaults = {"data_dir": str(data_dir), "sandbox_isolation": "none", "log_level": "warning"}
    return clean_environ(
        **{f"CORRAL_{name.upper()}": value for name, value in {**defaults, **settings}.items()}
    )
