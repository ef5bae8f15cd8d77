"""The process that executes a run, as recorded in the run's `metadata.worker`, and whether that
process has ended, so its runs can be recovered at once instead of when their heartbeat goes
stale (`run_stale_seconds`).

A pid alone says little: it may belong to another machine or container sharing the database,
or have been reused. So beside host and pid the record holds the process's start time (field 22
of /proc/<pid>/stat) and its *pid space* (the kernel's boot id and the pid namespace). A process
is known to have ended only when its pid space is ours and its pid is free or held by a process
that started at another time. Without /proc nothing is ever known to have ended.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from corral.ids import new_id


def _start_ticks(pid: int) -> int | None:
    """When the process started, in clock ticks since boot; None when there is no such pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()  # the name may hold spaces and ")"
        return int(fields[19])  # field 22; fields[0] is field 3 (the state)
    except (OSError, IndexError, ValueError):
        return None


def _pid_space() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as boot:
            return f"{boot.read().strip()}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return None


_PID_SPACE = _pid_space()


def identity() -> dict[str, Any]:
    """A new worker record for this process."""
    pid = os.getpid()
    worker: dict[str, Any] = {"id": new_id("wrk"), "host": socket.gethostname(), "pid": pid}
    started = _start_ticks(pid)
    if _PID_SPACE is not None and started is not None:
        worker.update(pidStart=started, pidSpace=_PID_SPACE)
    return worker


def has_ended(worker: Any) -> bool:
    """Whether the process a worker record names is known to be gone. Reads /proc: call it off
    the event loop (recovery runs in a store transaction)."""
    if _PID_SPACE is None or not isinstance(worker, dict):
        return False
    pid, started = worker.get("pid"), worker.get("pidStart")
    if worker.get("pidSpace") != _PID_SPACE or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the pid exists
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, as another user's process
    now_started = _start_ticks(pid)  # None: hidden from us (hidepid), so not known to be gone
    return now_started is not None and now_started != started
