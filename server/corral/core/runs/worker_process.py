"""The process that executes a run, as recorded in the run's `metadata.worker`, and whether that
process has ended, so its runs can be recovered at once instead of when their heartbeat goes
stale (`run_stale_seconds`).

Beside host and pid the record holds the process's start time and pid space
(`corral.process_identity`): a process is known to have ended only when its pid space is ours
and its pid is free or held by a process that started at another time. Without /proc nothing is
ever known to have ended.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Literal

from corral import process_identity
from corral.ids import new_id

# `embedded`: the worker of an API process; `standalone`: a `corral worker` (GET /healthz).
ProcessKind = Literal["embedded", "standalone"]


def identity(kind: ProcessKind = "embedded") -> dict[str, Any]:
    """A new worker record for this process."""
    pid = os.getpid()
    worker: dict[str, Any] = {
        "id": new_id("wrk"),
        "kind": kind,
        "host": socket.gethostname(),
        "pid": pid,
    }
    started = process_identity.start_ticks(pid)
    if process_identity.PID_SPACE is not None and started is not None:
        worker.update(pidStart=started, pidSpace=process_identity.PID_SPACE)
    return worker


def has_ended(worker: Any) -> bool:
    """Whether the process a worker record names is known to be gone. Reads /proc: call it off
    the event loop (recovery runs in a store transaction)."""
    if not isinstance(worker, dict):
        return False
    return process_identity.has_ended(
        worker.get("pid"), worker.get("pidStart"), worker.get("pidSpace")
    )
