"""Who a process is, from /proc: a pid alone says little, since pids are reused and may belong
to another machine or container. A process is named by its pid, its start time (field 22 of
/proc/<pid>/stat, in clock ticks since boot) and its *pid space* (the kernel's boot id and the
pid namespace). Shared by run recovery (core) and the sandbox's process-group ledger.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProcStat:
    pid: int
    state: bytes
    group: int
    session: int
    started: int  # clock ticks since boot


def read_stat(pid: int) -> ProcStat | None:
    """The process's stat line; None when there is no such pid (or /proc hides it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()  # the name may hold spaces and ")"
        # fields[0] is field 3 (the state): group is field 5, session 6, start time 22.
        return ProcStat(pid, fields[0], int(fields[2]), int(fields[3]), int(fields[19]))
    except (OSError, IndexError, ValueError):
        return None


def start_ticks(pid: int) -> int | None:
    stat = read_stat(pid)
    return None if stat is None else stat.started


def processes() -> Iterator[ProcStat]:
    """Every process this /proc shows (nothing without /proc)."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return
    for name in names:
        if name.isdigit() and (stat := read_stat(int(name))) is not None:
            yield stat


def _pid_space() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as boot:
            return f"{boot.read().strip()}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return None


PID_SPACE = _pid_space()


def from_another_boot(pid_space: object) -> bool:
    """Whether a recorded pid space belongs to an earlier boot of this machine (or another)."""
    if PID_SPACE is None or not isinstance(pid_space, str):
        return False
    return pid_space.split("/", 1)[0] != PID_SPACE.split("/", 1)[0]


def has_ended(pid: object, started: object, pid_space: object) -> bool:
    """Whether the process so named is known to be gone: its pid space is ours and its pid is
    free or held by a process that started at another time."""
    if PID_SPACE is None or pid_space != PID_SPACE or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the pid exists
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, as another user's process
    now_started = start_ticks(pid)  # None: hidden from us (hidepid), so not known to be gone
    return now_started is not None and now_started != started
