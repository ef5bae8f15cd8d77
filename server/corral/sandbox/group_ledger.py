"""The process groups this server started, kept on disk, so that a server killed without
warning (kill -9, the OOM killer) does not leave its commands running.

bwrap's `--die-with-parent` ends a confined command with its server; an unconfined one
(`sandbox_isolation: none`) would live on, holding the workspace's files and whatever it was
doing. So every command's group is one file here, `<pgid>.json`, written when it starts and
removed once the group has been ended: the owner (this process, as `corral.process_identity`
names it) and the leader's start time. The next server to start on the same data dir (`reap`)
ends the groups whose owner is gone: SIGKILL to every live process of the group or its session
that started no earlier than its leader (a pid reused since then is left alone). Entries of
owners still alive (another process on the same data dir) are theirs.

What it cannot catch: a process that left its session (`setsid`) before the server died, as
documented for `none`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
from pathlib import Path

from corral import process_identity

log = logging.getLogger("corral.sandbox")


class GroupLedger:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        me = os.getpid()
        self._owner = {
            "pid": me,
            "started": process_identity.start_ticks(me),
            "pidSpace": process_identity.PID_SPACE,
        }

    def record(self, pgid: int) -> None:
        entry = {"owner": self._owner, "leaderStarted": process_identity.start_ticks(pgid)}
        path = self.directory / f"{pgid}.json"
        path.write_bytes(json.dumps(entry).encode())

    def forget(self, pgid: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.directory / f"{pgid}.json").unlink()

    def reap(self) -> int:
        """End the groups left by owners that are gone; how many processes were killed. Reads
        /proc: call it off the event loop."""
        killed = 0
        for path in self.directory.glob("*.json"):
            try:
                entry = json.loads(path.read_bytes())
                pgid, owner, leader_started = int(path.stem), entry["owner"], entry["leaderStarted"]
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
                continue
            if process_identity.from_another_boot(owner["pidSpace"]):
                path.unlink(missing_ok=True)  # nothing outlives a reboot
                continue
            if not process_identity.has_ended(owner["pid"], owner["started"], owner["pidSpace"]):
                continue
            killed += _kill_group(pgid, leader_started)
            path.unlink(missing_ok=True)
        if killed:
            log.warning("ended %d processes left running by a server that died", killed)
        return killed


def _kill_group(pgid: int, leader_started: int | None) -> int:
    """SIGKILL what is left of group (and session) `pgid`. The kernel never hands out a pid
    while a group or session of that number has members, so: the number held by a process that
    started at another time means ours is gone (kill nothing); free, or held by our leader, means
    every member left is ours."""
    if leader_started is None:
        return 0  # the leader had ended before it could be recorded: nothing to tell it by
    holder = process_identity.read_stat(pgid)
    if holder is not None and holder.started != leader_started:
        return 0
    me = os.getpid()
    ours = {me, os.getpgid(0), os.getsid(0)}
    killed = 0
    for proc in process_identity.processes():
        member = pgid in (proc.group, proc.session) and proc.state != b"Z"
        if member and proc.started >= leader_started and proc.pid != me and pgid not in ours:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGKILL)
                killed += 1
    return killed
