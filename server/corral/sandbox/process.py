"""Commands run in a workspace: each in its own process group (its own session), in a directory
inside the workspace, with a scrubbed environment, under the chosen isolation.

`Sandbox.run` waits for a command and captures its output, capped but always drained so the
command never blocks on a full pipe; `Sandbox.start` leaves one running for the caller (the
background tasks). When a command's main process ends, or its time is up, its whole group ends
with it: SIGTERM, then SIGKILL after a grace period. Waits are asyncio waits, never blocking.

The sandbox of a read-only workspace runs nothing (`workspace_read_only`): a command could
write anywhere in the workspace, and isolation `none` could not stop it. Whoever else changes
the workspace on a caller's behalf (a background task's log, the file tools) asks
`check_writable` first.

Exit codes follow the shell: a command killed by signal N exits 128+N, a command that timed
out reports 124 (as `timeout(1)`), an executable that is missing 127 and one that cannot be
executed 126.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from corral.errors import CorralError
from corral.process_identity import processes
from corral.sandbox.environment import check_text, command_env
from corral.sandbox.group_ledger import GroupLedger
from corral.sandbox.isolation import Isolation, Launch
from corral.sandbox.paths import resolve_cwd

TIMED_OUT_EXIT = 124
NOT_EXECUTABLE_EXIT = 126
NOT_FOUND_EXIT = 127
KILL_GRACE_S = 1.0  # between SIGTERM and SIGKILL
DRAIN_GRACE_S = 1.0  # for pipes still held open by a process that left the group
CHUNK = 64 * 1024
_PIPE = asyncio.subprocess.PIPE
_DEVNULL = asyncio.subprocess.DEVNULL
_STDOUT = asyncio.subprocess.STDOUT


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    stdout: str
    stderr: str
    exit_code: int
    timed_out: bool = False
    truncated: bool = False


@dataclass(slots=True)
class Started:
    """A command left running: `exited` resolves when its main process has ended (even while
    other members of its group still hold its pipes)."""

    process: asyncio.subprocess.Process
    transport: asyncio.SubprocessTransport
    exited: asyncio.Future[None]
    ledger: GroupLedger | None = None  # where the group is recorded until closed

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int:
        return exit_code(self.process.returncode)

    def close(self) -> None:
        """Close the pipes (and SIGKILL the main process if it still runs); the group, ended
        by now, leaves the ledger."""
        self.transport.close()
        if self.ledger is not None:
            self.ledger.forget(self.pid)
            self.ledger = None


class Sandbox:
    """Commands confined to one workspace root."""

    def __init__(
        self,
        root: Path,
        isolation: Isolation,
        *,
        env_passthrough: Sequence[str] = (),
        output_limit: int,
        ledger: GroupLedger | None = None,
        read_only: bool = False,
    ) -> None:
        self.root = Path(os.path.realpath(root))
        self.isolation = isolation
        self.env_passthrough = tuple(env_passthrough)
        self.output_limit = output_limit
        self.ledger = ledger
        self.read_only = read_only

    def check_writable(self) -> None:
        """Refuse anything that could change a read-only workspace."""
        if self.read_only:
            raise CorralError(
                "workspace_read_only",
                "the workspace is read-only: nothing may change it, and no command runs in it",
            )

    async def run(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
    ) -> CommandOutcome:
        """Run `argv` to its end or `timeout_s`; `stdin` is written then closed."""
        self.check_writable()
        data = None if stdin is None else _stdin_bytes(stdin)
        try:
            launch = await self._prepare(argv, cwd, env)
            started = await _spawn(
                launch,
                self.ledger,
                stdin=_DEVNULL if data is None else _PIPE,
                stdout=_PIPE,
                stderr=_PIPE,
            )
        except _CannotExecute as exc:
            return exc.outcome
        return await _supervise(started, data, timeout_s, self.output_limit)

    async def start(
        self,
        argv: Sequence[str],
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        keep_stdin: bool = False,
    ) -> Started:
        """Start `argv` with stdout and stderr merged into one pipe the caller must drain, and
        stdin a pipe when `keep_stdin` (else /dev/null)."""
        self.check_writable()
        try:
            launch = await self._prepare(argv, cwd, env)
            return await _spawn(
                launch,
                self.ledger,
                stdin=_PIPE if keep_stdin else _DEVNULL,
                stdout=_PIPE,
                stderr=_STDOUT,
            )
        except _CannotExecute as exc:
            message = exc.outcome.stderr.strip()
            raise CorralError.invalid_request(message, {"field": "command"}) from None

    async def _prepare(
        self, argv: Sequence[str], cwd: str | None, env: Mapping[str, str] | None
    ) -> Launch:
        if not argv:
            raise CorralError.invalid_request("the command is empty", {"field": "command"})
        for i, arg in enumerate(argv):
            check_text("command" if i == 0 else f"args.{i - 1}", arg)
        full_env = command_env(self.root, env, self.env_passthrough)
        workdir = await asyncio.to_thread(
            _locate, self.root, cwd, argv[0], full_env.get("PATH", "")
        )
        return self.isolation.launch(argv, root=self.root, cwd=workdir, env=full_env)


class _CannotExecute(Exception):
    """The command cannot start; `outcome` is what a shell would have reported."""

    def __init__(self, outcome: CommandOutcome) -> None:
        super().__init__(outcome.stderr)
        self.outcome = outcome


def _locate(root: Path, cwd: str | None, program: str, path: str) -> Path:
    """The working directory, once it and the program are known to exist (file system calls:
    run in a thread)."""
    try:
        workdir = resolve_cwd(root, cwd)
    except CorralError as exc:
        if exc.code != "workspace_entry_not_found":
            raise
        # A command cannot start in a missing directory: the request is at fault, not a lookup.
        raise CorralError("invalid_sandbox_path", exc.message, exc.details) from None
    _check_executable(program, workdir, path)
    return workdir


def _stdin_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise CorralError.invalid_request(
            "stdinText is not valid Unicode text (lone surrogate)", {"field": "stdinText"}
        ) from None


class _Protocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's own protocol, plus a future set as soon as the main process ends: a plain
    `Process.wait()` also waits for every pipe to close, which any grandchild can delay."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


async def _spawn(
    launch: Launch, ledger: GroupLedger | None, *, stdin: int, stdout: int, stderr: int
) -> Started:
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.subprocess_exec(
            lambda: _Protocol(CHUNK, loop),
            *launch.argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=launch.env,
            cwd=launch.cwd,
            pass_fds=launch.pass_fds,
            start_new_session=True,
        )
    except OSError as exc:
        raise _spawn_failure(launch.argv[0], exc) from exc
    finally:
        launch.close()
    process = asyncio.subprocess.Process(transport, protocol, loop)
    if ledger is not None:
        try:
            ledger.record(process.pid)  # its own group: the pid is the pgid
        except OSError:
            signal_group(process.pid, signal.SIGKILL)  # never a command nothing would end
            transport.close()
            raise
    return Started(process, transport, protocol.exited, ledger)


def _check_executable(name: str, workdir: Path, path: str) -> None:
    """Look `name` up as execvp would, before any process exists, so that both isolation
    modes answer a missing or non-executable program alike (127 / 126)."""
    dirs = ["."] if "/" in name else path.split(":")
    found = [c for c in (workdir / d / name for d in dirs) if c.is_file()]
    if any(os.access(c, os.X_OK) for c in found):
        return
    if found:
        raise _CannotExecute(
            CommandOutcome("", f"{name}: permission denied\n", NOT_EXECUTABLE_EXIT)
        )
    raise _CannotExecute(CommandOutcome("", f"{name}: command not found\n", NOT_FOUND_EXIT))


def _spawn_failure(name: str, exc: OSError) -> Exception:
    """What to raise when exec itself failed (the file changed since the lookup)."""
    if exc.errno == errno.E2BIG:
        return CorralError.invalid_request("the command and its environment are too long")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return _CannotExecute(CommandOutcome("", f"{name}: command not found\n", NOT_FOUND_EXIT))
    if exc.errno in (errno.EACCES, errno.ENOEXEC, errno.EISDIR):
        return _CannotExecute(CommandOutcome("", f"{name}: {exc.strerror}\n", NOT_EXECUTABLE_EXIT))
    return exc


class _Capture:
    """Keeps the first `limit` bytes of a stream and reads (discards) the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    async def drain(self, stream: asyncio.StreamReader | None) -> None:
        while stream is not None and (chunk := await stream.read(CHUNK)):
            room = self.limit - len(self.data)
            if len(chunk) > room:
                self.truncated = True
            if room > 0:
                self.data += chunk[:room]

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


async def _feed(writer: asyncio.StreamWriter | None, data: bytes) -> None:
    if writer is None:
        return
    try:
        writer.write(data)
        await writer.drain()
        writer.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the command exited without reading all of its input


async def _supervise(
    started: Started, stdin: bytes | None, timeout_s: float, limit: int
) -> CommandOutcome:
    proc = started.process
    out, err = _Capture(limit), _Capture(limit)
    io = [
        asyncio.ensure_future(out.drain(proc.stdout)),
        asyncio.ensure_future(err.drain(proc.stderr)),
    ]
    if stdin is not None:
        io.append(asyncio.ensure_future(_feed(proc.stdin, stdin)))
    ended = False
    try:
        done, _ = await asyncio.wait([started.exited], timeout=timeout_s)
        timed_out = not done
        await end_group(proc.pid)
        ended = True
        await asyncio.wait([started.exited], timeout=KILL_GRACE_S)
        await asyncio.wait(io, timeout=DRAIN_GRACE_S)
    finally:
        for task in io:
            task.cancel()
        if not ended:
            signal_group(proc.pid, signal.SIGKILL)  # cancelled: leave nothing running
        started.close()
    return CommandOutcome(
        stdout=out.text(),
        stderr=err.text(),
        exit_code=TIMED_OUT_EXIT if timed_out else started.exit_code(),
        timed_out=timed_out,
        truncated=out.truncated or err.truncated,
    )


def exit_code(returncode: int | None) -> int:
    """A process's status as a shell reports it (None: still unknown, taken as SIGKILL)."""
    if returncode is None:
        return 128 + signal.SIGKILL
    return returncode if returncode >= 0 else 128 - returncode


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to the group; False when the group has no process left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a member we may not signal (setuid) still counts as alive
    return True


async def end_group(pgid: int, grace_s: float = KILL_GRACE_S) -> None:
    """SIGTERM the whole group, then SIGKILL whatever still runs after `grace_s`."""
    if not signal_group(pgid, signal.SIGTERM):
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    while loop.time() < deadline:
        await asyncio.sleep(0.02)
        if not signal_group(pgid, 0) or not await asyncio.to_thread(_runs_any, pgid):
            return
    signal_group(pgid, signal.SIGKILL)


def _runs_any(pgid: int) -> bool:
    """Whether a member of the group is more than a zombie (an init that never reaps orphans
    leaves those behind forever, and `kill(0)` still finds them)."""
    if not os.path.isdir("/proc"):
        return True  # no /proc: trust kill(0)
    return any(p.group == pgid and p.state != b"Z" for p in processes())
