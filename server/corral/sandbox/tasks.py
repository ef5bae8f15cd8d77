"""Background commands: started apart from any request, their merged stdout and stderr
appended to a log in the workspace (`/workspace/.corral/tasks/<id>.log`, readable through the
files API), their metadata kept as JSON under the server's data dir, outside every workspace,
where no command can tamper with the pid the server will signal.

A task's whole process group is ended when its main process exits, when it is stopped, when
it outlives `max_lifetime_s` (it is then `stopped`), and when the server shuts down. Running
tasks are capped per server and per workspace, so that one tenant cannot take every slot.
After a restart a task is still reported from its metadata and log; one the server could not
record the end of (a crash) reports status `unknown`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import re
import signal
import stat
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corral.errors import CorralError
from corral.ids import new_id
from corral.sandbox.paths import VIRTUAL_ROOT, resolve
from corral.sandbox.process import (
    CHUNK,
    DRAIN_GRACE_S,
    KILL_GRACE_S,
    Sandbox,
    Started,
    end_group,
    signal_group,
)

log = logging.getLogger("corral.sandbox")

TASK_ID = re.compile(r"task_[0-9a-f]{32}")
LOG_DIR = f"{VIRTUAL_ROOT}/.corral/tasks"
MAX_PENDING_INPUT = 1024 * 1024  # bytes written to a task's stdin that it has not read yet


@dataclass(slots=True, kw_only=True)
class TaskRecord:
    id: str
    workspace_id: str
    session_id: str | None
    command: str
    description: str | None
    output_path: str  # as clients see it: /workspace/...
    pid: int
    status: str  # running | completed | failed | stopped | unknown
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None
    exit_code: int | None = None
    signal: str | None = None
    output_truncated: bool = False  # the log reached its size limit

    def to_json(self) -> bytes:
        data = dataclasses.asdict(self)
        for key in ("created_at", "updated_at", "ended_at"):
            data[key] = data[key] and data[key].isoformat()
        return json.dumps(data).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> TaskRecord:
        data: dict[str, Any] = json.loads(raw)
        for key in ("created_at", "updated_at", "ended_at"):
            data[key] = data[key] and datetime.fromisoformat(data[key])
        return cls(**data)


@dataclass(slots=True)
class _Live:
    record: TaskRecord
    started: Started
    log_fd: int
    stop_requested: bool = False
    ended: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    supervisor: asyncio.Future[None] | None = None  # a reference keeps the task alive


class TaskRegistry:
    def __init__(
        self,
        state_dir: Path,
        *,
        log_limit: int,
        max_running: int,
        max_per_workspace: int | None = None,
        max_lifetime_s: float | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.log_limit = log_limit
        self.max_running = max_running
        self.max_per_workspace = max_per_workspace or max_running
        self.max_lifetime_s = max_lifetime_s or None  # 0: no limit
        self._live: dict[str, _Live] = {}
        self._running = Counter[str]()  # per workspace: live or starting

    async def start(
        self,
        sandbox: Sandbox,
        command: str,
        *,
        workspace_id: str,
        session_id: str | None,
        description: str | None,
        cwd: str | None,
        env: dict[str, str] | None,
    ) -> TaskRecord:
        """Start `command` through /bin/sh; with a session, its stdin stays open for input."""
        sandbox.check_writable()  # before its log is created in the workspace
        if self._running.total() >= self.max_running:
            raise CorralError(
                "too_many_background_tasks",
                f"{self.max_running} background commands are already running",
            )
        if self._running[workspace_id] >= self.max_per_workspace:
            raise CorralError(
                "too_many_background_tasks",
                f"{self.max_per_workspace} background commands of this workspace are already "
                "running",
                {"workspaceId": workspace_id},
            )
        task_id = new_id("task")
        output_path = f"{LOG_DIR}/{task_id}.log"
        self._running[workspace_id] += 1  # holds the slot across the awaits below
        try:
            log_fd = await asyncio.to_thread(_create_log, sandbox.root, output_path)
            try:
                started = await sandbox.start(
                    ["/bin/sh", "-c", command], cwd=cwd, env=env, keep_stdin=session_id is not None
                )
            except BaseException:
                os.close(log_fd)
                raise
        except BaseException:
            self._release(workspace_id)
            raise
        now = datetime.now(UTC)
        record = TaskRecord(
            id=task_id,
            workspace_id=workspace_id,
            session_id=session_id,
            command=command,
            description=description,
            output_path=output_path,
            pid=started.pid,
            status="running",
            created_at=now,
            updated_at=now,
        )
        live = _Live(record, started, log_fd)
        self._live[task_id] = live
        live.supervisor = asyncio.ensure_future(self._supervise(live))
        return record

    async def get(self, task_id: str) -> TaskRecord | None:
        live = self._live.get(task_id)
        if live is not None:
            return live.record
        if not TASK_ID.fullmatch(task_id):
            return None
        try:
            raw = await asyncio.to_thread((self.state_dir / f"{task_id}.json").read_bytes)
            record = TaskRecord.from_json(raw)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, KeyError):
            log.warning("unreadable task metadata %s", task_id)
            return None
        if record.status == "running":
            record.status = "unknown"  # started by an earlier server that did not see its end
        return record

    def input_writable(self, task_id: str) -> bool:
        live = self._live.get(task_id)
        if live is None or live.started.exited.done():
            return False
        stdin = live.started.process.stdin
        return stdin is not None and not stdin.is_closing()

    def write_input(self, task_id: str, data: bytes) -> TaskRecord:
        """Queue `data` for the task's stdin (`terminal_input_closed` when it has none or
        stopped reading, `terminal_input_blocked` while earlier input is unread)."""
        live = self._live.get(task_id)
        if live is None or not self.input_writable(task_id):
            raise CorralError(
                "terminal_input_closed",
                f"terminal {task_id} does not accept input",
                {"terminalId": task_id},
            )
        stdin = live.started.process.stdin
        assert stdin is not None  # input_writable checked it
        if stdin.transport.get_write_buffer_size() + len(data) > MAX_PENDING_INPUT:
            raise CorralError(
                "terminal_input_blocked",
                f"terminal {task_id} has not read its earlier input yet",
                {"terminalId": task_id},
            )
        stdin.write(data)
        live.record.updated_at = datetime.now(UTC)
        return live.record

    async def stop(self, task_id: str) -> bool:
        """End the task's whole group; False when it was not running."""
        live = self._live.get(task_id)
        if live is None:
            return False
        stopping = not live.started.exited.done()  # else it ended on its own, being recorded
        if stopping:
            live.stop_requested = True
            await end_group(live.record.pid)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(live.ended.wait(), KILL_GRACE_S + DRAIN_GRACE_S + 1)
        return stopping

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(task_id) for task_id in list(self._live)))

    def _release(self, workspace_id: str) -> None:
        self._running[workspace_id] -= 1
        if self._running[workspace_id] <= 0:
            del self._running[workspace_id]

    async def _supervise(self, live: _Live) -> None:
        pump = asyncio.ensure_future(self._pump(live))
        try:
            await self._save(live.record)  # here, so that it always precedes the end's save
            try:
                await asyncio.wait_for(asyncio.shield(live.started.exited), self.max_lifetime_s)
            except TimeoutError:
                log.info(
                    "background task %s outlived %s s: stopping it",
                    live.record.id,
                    self.max_lifetime_s,
                )
                live.stop_requested = True
                await end_group(live.record.pid)
                await live.started.exited
            await end_group(live.record.pid)  # what the main process left behind
            await asyncio.wait([pump], timeout=DRAIN_GRACE_S)
        finally:
            pump.cancel()
            if not live.started.exited.done():  # supervision failed: leave nothing running
                signal_group(live.record.pid, signal.SIGKILL)
            live.started.close()
            os.close(live.log_fd)
            _record_end(live)
            try:
                await self._save(live.record)
            finally:
                self._live.pop(live.record.id, None)
                self._release(live.record.workspace_id)
                live.ended.set()

    async def _pump(self, live: _Live) -> None:
        """Copy the output into the log up to the limit; read (and drop) the rest."""
        stream = live.started.process.stdout
        written = 0
        while stream is not None and (chunk := await stream.read(CHUNK)):
            room = self.log_limit - written
            if len(chunk) > room:
                live.record.output_truncated = True
            if room > 0:
                written += await asyncio.to_thread(_write_all, live.log_fd, chunk[:room])

    async def _save(self, record: TaskRecord) -> None:
        await asyncio.to_thread(
            _write_atomic, self.state_dir / f"{record.id}.json", record.to_json()
        )


def _record_end(live: _Live) -> None:
    record = live.record
    returncode = live.started.process.returncode
    record.exit_code = live.started.exit_code()
    if returncode is not None and returncode < 0:
        record.signal = signal.Signals(-returncode).name
    if live.stop_requested:
        record.status = "stopped"
    else:
        record.status = "completed" if returncode == 0 else "failed"
    record.ended_at = record.updated_at = datetime.now(UTC)


def _create_log(root: Path, output_path: str) -> int:
    with resolve(root, output_path, create_parents=True) as target:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        return os.open(target.name, flags, 0o644, dir_fd=target.parent_fd)


def _write_all(fd: int, data: bytes) -> int:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    return len(data)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def read_tail(root: Path, output_path: str, max_bytes: int) -> tuple[bytes, bool]:
    """The last `max_bytes` of a task's log and whether that cut anything (empty when the
    log is gone, or the command replaced it with something that is not a file)."""
    try:
        with resolve(root, output_path) as target:
            if target.stat is None:
                return b"", False
            fd = os.open(
                target.name,
                os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                dir_fd=target.parent_fd,
            )
    except (CorralError, OSError):
        return b"", False
    with os.fdopen(fd, "rb") as log:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return b"", False
        size = info.st_size
        start = max(0, size - max_bytes)
        log.seek(start)
        return log.read(max_bytes), start > 0
