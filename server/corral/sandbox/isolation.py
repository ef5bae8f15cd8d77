"""How a command is confined: `none` runs it as a plain process, `bwrap` inside bubblewrap.

bwrap gives the command: the host file system read-only, the workspace its only writable
place, private /tmp, /dev, /proc and /run, the server's data dir, home, config file and the
configured hidden paths masked by empty directories, new user/pid/ipc/uts/cgroup namespaces
without any capability or further user namespaces, no network unless allowed, and death with
the server. Its options travel through a memfd (`--args`), so the caller's variables never
show in the host's process list and never reach bwrap's own environment.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from corral.sandbox.environment import DEFAULT_PATH

log = logging.getLogger("corral.sandbox")

Mode = Literal["bwrap", "none"]
PROBE_TIMEOUT_S = 10


@dataclass(slots=True)
class Launch:
    """What to hand to the process spawner; `close()` once the process is started."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    pass_fds: tuple[int, ...] = ()

    def close(self) -> None:
        for fd in self.pass_fds:
            os.close(fd)


@dataclass(frozen=True, slots=True)
class Isolation:
    mode: Mode = "none"
    network: bool = False
    hidden: tuple[Path, ...] = ()
    bwrap: str = field(default="bwrap", repr=False)

    def launch(
        self, argv: Sequence[str], *, root: Path, cwd: Path, env: Mapping[str, str]
    ) -> Launch:
        if self.mode == "none":
            return Launch(list(argv), dict(env), cwd)
        options = [*self._mounts(root), "--chdir", str(cwd), "--clearenv"]
        for name, value in env.items():
            options += ["--setenv", name, value]
        fd = os.memfd_create("corral-bwrap-args", os.MFD_CLOEXEC)
        try:
            os.write(fd, b"".join(o.encode() + b"\0" for o in options))
            os.lseek(fd, 0, os.SEEK_SET)
        except BaseException:
            os.close(fd)
            raise
        return Launch(
            [self.bwrap, "--args", str(fd), "--", *argv], {"PATH": DEFAULT_PATH}, cwd, (fd,)
        )

    def _mounts(self, root: Path) -> list[str]:
        options = [
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/tmp",
            "--tmpfs",
            "/run",
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--cap-drop",
            "ALL",
            "--die-with-parent",
            "--new-session",
        ]
        if self.network:
            options.append("--share-net")
            resolv = Path(os.path.realpath("/etc/resolv.conf"))
            if resolv.is_relative_to("/run"):  # systemd-resolved: keep DNS working
                options += ["--ro-bind-try", str(resolv), str(resolv)]
        # A mask above the workspace goes first (the bind then re-exposes the workspace); a
        # mask inside it goes after the bind, or the bind would uncover it again.
        before: list[str] = []
        after: list[str] = []
        for path in self.hidden:
            mask = _mask(path)
            if mask:
                (after if path.is_relative_to(root) and path != root else before).extend(mask)
        return [*options, *before, "--bind", str(root), str(root), *after]


def _mask(path: Path) -> list[str]:
    if path.is_dir():
        return ["--tmpfs", str(path)]
    if path.exists():
        return ["--ro-bind", "/dev/null", str(path)]
    return []


async def choose_isolation(
    setting: str,
    *,
    network: bool,
    hidden: Sequence[Path],
    probe_root: Path,
    exposure: str | None = None,
) -> Isolation:
    """The isolation `setting` (auto|bwrap|none) gives on this machine. `bwrap` fails loudly
    when bubblewrap is missing or cannot create its namespaces; so does `auto` when the server
    is exposed (`exposure` says how: callers limited to some workspaces, a non-loopback
    address), else it falls back to none. Only an explicit `none` runs commands unconfined
    with a warning at every start."""
    if setting == "none":
        log.warning(
            "sandbox_isolation is none: commands run as plain processes of the server's user "
            "and can read its environment, its database and every workspace"
        )
        return Isolation("none")
    found = shutil.which("bwrap")
    masked = tuple(sorted(_maskable(hidden)))
    candidate = Isolation("bwrap", network, masked, found or "bwrap")
    problem = "bwrap is not installed" if found is None else await _probe(candidate, probe_root)
    if problem is None:
        return candidate
    if setting == "bwrap":
        raise IsolationUnavailable(f"sandbox_isolation is bwrap but {problem}")
    if exposure is not None:
        raise IsolationUnavailable(
            f"sandbox commands cannot be confined ({problem}) and {exposure}: install "
            "bubblewrap (apt-get install bubblewrap) where user namespaces work, or set "
            "sandbox_isolation: none to run them unconfined on purpose (only inside an outer "
            "sandbox such as a container or VM)"
        )
    log.warning("sandbox commands run without isolation: %s", problem)
    return Isolation("none")


class IsolationUnavailable(RuntimeError):
    """The isolation asked for, or that the server's exposure requires, cannot be had."""


def _maskable(paths: Sequence[Path]) -> set[Path]:
    real = {Path(os.path.realpath(p)) for p in paths}
    if Path("/") in real:  # a home of "/" would hide the whole system
        log.warning("not masking / in the sandbox")
        real.discard(Path("/"))
    return real


async def _probe(isolation: Isolation, root: Path) -> str | None:
    """None when bwrap can run `true` with exactly our options, else what went wrong."""
    root = Path(os.path.realpath(root))
    launch = isolation.launch(["true"], root=root, cwd=root, env={"PATH": DEFAULT_PATH})
    with tempfile.TemporaryFile() as errors:
        try:
            proc = await asyncio.create_subprocess_exec(
                *launch.argv,
                env=launch.env,
                cwd=launch.cwd,
                pass_fds=launch.pass_fds,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,
            )
        except OSError as exc:
            return f"bwrap cannot start: {exc}"
        finally:
            launch.close()
        try:
            code = await asyncio.wait_for(proc.wait(), PROBE_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return f"bwrap did not answer within {PROBE_TIMEOUT_S} s"
        errors.seek(0)
        message = errors.read(500).decode(errors="replace").strip()
    return None if code == 0 else f"bwrap fails here ({message or f'exit {code}'})"
