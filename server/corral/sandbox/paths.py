"""Resolving a client's path inside a workspace root, safe against hostile input and races.

Clients speak of `/workspace/...` (relative paths resolve under it). The path is checked
lexically first (NUL, control and bidi characters, backslashes, look-alike dots and slashes,
over-long names), then walked one component at a time with `openat(O_PATH|O_NOFOLLOW)` from a
directory fd of the root, never by joining strings and calling `realpath`:

- `..` written by the client is resolved lexically first, as OAH does (`a/../b` is `b`
  whatever `a` is), and climbing above `/workspace` is refused before anything is touched;
- `..` inside a symlink's target pops the walker's own stack of directory fds, so it cannot
  climb above the root even if directories are moved around meanwhile;
- a symlink is followed only by feeding its target back into the same walker (absolute targets
  must lie under the root's real path), so a link leading outside, or `..` after a link, is
  refused exactly like a literal escape; at most 40 links per path (as the kernel);
- FIFOs, sockets and device files are refused wherever they appear.

The walk yields the *parent* directory fd and the final name; every operation then acts
relative to that fd (`dir_fd=`, `O_NOFOLLOW`), so a symlink swapped into the path after the
check cannot redirect it. Linux only (`O_PATH`).
"""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from corral.errors import CorralError

VIRTUAL_ROOT = "/workspace"
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096
MAX_SYMLINK_HOPS = 40

_DIR_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC
# Bidi overrides and isolates make a displayed name differ from the real one.
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def invalid_path(raw: str, reason: str) -> CorralError:
    shown = raw if len(raw) <= 200 else raw[:200] + "…"
    return CorralError("invalid_sandbox_path", f"invalid sandbox path: {reason}", {"path": shown})


def entry_not_found(virtual: str) -> CorralError:
    return CorralError("workspace_entry_not_found", f"{virtual} does not exist", {"path": virtual})


@dataclass(slots=True)
class Target:
    """Where a path landed: `name` inside the directory `parent_fd` (an `O_PATH` fd).

    For the root itself `name` is "." and `parent_fd` is the root. `stat` is the `lstat` taken
    during the walk (None when the entry does not exist); `virtual` is the physical location as
    the client sees it (`/workspace/...`, after following symlinks).
    """

    parent_fd: int
    name: str
    virtual: str
    stat: os.stat_result | None

    @property
    def is_root(self) -> bool:
        return self.virtual == VIRTUAL_ROOT

    @property
    def exists(self) -> bool:
        return self.stat is not None

    @property
    def is_dir(self) -> bool:
        return self.stat is not None and stat.S_ISDIR(self.stat.st_mode)

    def refresh(self) -> os.stat_result | None:
        self.stat = lstat_at(self.parent_fd, self.name)
        return self.stat


def parse(raw: str) -> list[str]:
    """The components of a client path below the virtual root, `.` and `..` resolved."""
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise invalid_path(raw, f"longer than {MAX_PATH_BYTES} bytes")
    for ch in raw:
        if ch in _BIDI_CONTROLS or unicodedata.category(ch) in _FORBIDDEN_CATEGORIES:
            raise invalid_path(raw, f"contains the character U+{ord(ch):04X}")
    if "\\" in raw:
        raise invalid_path(raw, "backslashes are not path separators here")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if raw.startswith("/"):
        if not parts or parts[0] != VIRTUAL_ROOT[1:]:
            raise invalid_path(raw, f"absolute paths must lie under {VIRTUAL_ROOT}")
        parts = parts[1:]
    clean: list[str] = []
    for part in parts:
        _check_component(raw, part)
        if part != "..":
            clean.append(part)
        elif clean:
            clean.pop()
        else:
            raise invalid_path(raw, "the path leaves the workspace")
    return clean


def _check_component(raw: str, part: str) -> None:
    if len(part.encode("utf-8")) > MAX_NAME_BYTES:
        raise invalid_path(raw, f"a name is longer than {MAX_NAME_BYTES} bytes")
    if part != "..":
        # Full-width dots and slashes fold to "." and "/" in tools that normalise (NFKC).
        folded = unicodedata.normalize("NFKC", part)
        if folded in (".", "..") or "/" in folded or "\\" in folded:
            raise invalid_path(raw, f"{part!r} looks like a path separator or dot segment")


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _is_special(mode: int) -> bool:
    return not (stat.S_ISDIR(mode) or stat.S_ISREG(mode) or stat.S_ISLNK(mode))


class _Walker:
    """A stack of directory fds from the root down; each name in `names` owns `fds[i + 1]`."""

    def __init__(self, root_fd: int, real_root: str, raw: str) -> None:
        self.fds = [root_fd]
        self.names: list[str] = []
        self.real_root = real_root
        self.raw = raw
        self.hops = 0

    @property
    def cwd_fd(self) -> int:
        return self.fds[-1]

    def virtual(self, *more: str) -> str:
        return "/".join([VIRTUAL_ROOT, *self.names, *more])

    def up(self) -> None:
        if not self.names:
            raise invalid_path(self.raw, "the path leaves the workspace")
        os.close(self.fds.pop())
        self.names.pop()

    def down(self, name: str) -> None:
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=self.cwd_fd)
        except OSError as exc:
            # It was a directory at lstat time: something swapped it since.
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise invalid_path(self.raw, "the path changed while it was resolved") from exc
            raise
        self.fds.append(fd)
        self.names.append(name)

    def link_target(self, name: str) -> list[str]:
        """The components a symlink stands for, relative to the current directory."""
        self.hops += 1
        if self.hops > MAX_SYMLINK_HOPS:
            raise invalid_path(self.raw, "too many levels of symbolic links")
        try:
            target = os.readlink(name, dir_fd=self.cwd_fd)
        except OSError as exc:
            raise invalid_path(self.raw, "the path changed while it was resolved") from exc
        if target.startswith("/"):
            if target != self.real_root and not target.startswith(self.real_root + "/"):
                raise invalid_path(self.raw, "a symbolic link leads outside the workspace")
            while self.names:
                self.up()
            target = target[len(self.real_root) :]
        parts = [p for p in target.split("/") if p not in ("", ".")]
        for part in parts:
            if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
                raise invalid_path(self.raw, "a symbolic link target is invalid")
        return parts

    def close(self) -> None:
        for fd in self.fds[1:]:
            os.close(fd)
        del self.fds[1:]


@contextmanager
def open_root(root: Path) -> Iterator[tuple[int, str]]:
    """An `O_PATH` fd of the workspace root (which the server trusts) and its real path."""
    try:
        fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError) as exc:
        # A workspace whose directory is gone is not there to work in (`workspace_path_not_found`
        # is for registering a missing directory, not for working in one).
        raise CorralError("workspace_not_found", "the workspace directory is missing") from exc
    try:
        yield fd, os.path.realpath(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


@contextmanager
def resolve(
    root: Path, raw: str, *, follow: bool = True, create_parents: bool = False
) -> Iterator[Target]:
    """Walk `raw` under `root`; the yielded `Target`'s fds are valid inside the `with` block.

    `follow=False` leaves a final symlink unfollowed (to delete or move the link itself) after
    checking that it would resolve inside the root. A missing intermediate directory is
    `workspace_entry_not_found`, or is created (mode 0o755) when `create_parents`.
    """
    parts = parse(raw)
    if not follow:
        try:
            with resolve(root, raw):
                pass  # only to refuse a final link that leads outside
        except CorralError as exc:
            if exc.code != "workspace_entry_not_found":
                raise
    with open_root(root) as (root_fd, real_root):
        walker = _Walker(root_fd, real_root, raw)
        try:
            yield _walk(walker, deque(parts), follow=follow, create_parents=create_parents)
        finally:
            walker.close()


def _walk(w: _Walker, pending: deque[str], *, follow: bool, create_parents: bool) -> Target:
    while pending:
        name = pending.popleft()
        if name == "..":
            w.up()
            continue
        last = not pending
        st = lstat_at(w.cwd_fd, name)
        if st is None:
            if last:
                return Target(w.cwd_fd, name, w.virtual(name), None)
            if not create_parents:
                raise entry_not_found(w.virtual(name))
            _make_dir(w.cwd_fd, name)
            w.down(name)
            continue
        if stat.S_ISLNK(st.st_mode) and (follow or not last):
            pending.extendleft(reversed(w.link_target(name)))
            continue
        if _is_special(st.st_mode):
            raise invalid_path(w.raw, f"{w.virtual(name)} is not a regular file or directory")
        if last:
            return Target(w.cwd_fd, name, w.virtual(name), st)
        if not stat.S_ISDIR(st.st_mode):
            if create_parents:
                raise CorralError(
                    "workspace_entry_conflict",
                    f"{w.virtual(name)} is not a directory",
                    {"path": w.virtual(name)},
                )
            raise entry_not_found(w.virtual(name))
        w.down(name)
    # The path ended on a directory already walked into ("", ".", "a/..", a link to a dir).
    if not w.names:
        return Target(w.cwd_fd, ".", VIRTUAL_ROOT, os.stat(w.cwd_fd))
    name = w.names[-1]
    w.up()
    return Target(w.cwd_fd, name, w.virtual(name), lstat_at(w.cwd_fd, name))


def _make_dir(dir_fd: int, name: str) -> None:
    with suppress(FileExistsError):  # a concurrent creator won; `down` checks it is a directory
        os.mkdir(name, 0o755, dir_fd=dir_fd)


def resolve_cwd(root: Path, cwd: str | None) -> Path:
    """The real absolute path of an existing directory inside `root` (the root when None).

    For commands, which need a path string: the directory is checked here, but a process
    started there can reach anything the workspace links to anyway.
    """
    with resolve(root, cwd if cwd is not None else VIRTUAL_ROOT) as target:
        if not target.is_dir:
            if target.exists:
                raise invalid_path(cwd or "", f"{target.virtual} is not a directory")
            raise entry_not_found(target.virtual)
        real_root = Path(os.path.realpath(root))
        relative = target.virtual[len(VIRTUAL_ROOT) :].lstrip("/")
        return real_root / relative if relative else real_root
