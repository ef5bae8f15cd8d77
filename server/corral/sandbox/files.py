"""File operations inside a workspace root: list, stat, read, write, upload, download, mkdir,
delete, move. Blocking calls (run them in a thread); failures are `CorralError`s.

Every operation resolves its path with `paths.resolve` and then acts relative to the parent
directory fd, never through a path string. Writes land in a temp file beside the target and
are renamed over it, so readers never see half a file; the check of `overwrite`/`ifMatch` and
the rename happen under an exclusive `flock` of the parent directory, so concurrent writers
with `ifMatch` cannot both succeed against the same version (across processes too).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mimetypes
import os
import secrets
import shutil
import stat
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from corral.core.errors import CorralError
from corral.sandbox.paths import (
    Target,
    entry_not_found,
    invalid_path,
    lstat_at,
    resolve,
)

SortKey = Literal["name", "updatedAt", "sizeBytes", "type"]
TEMP_PREFIX = ".corral-upload-"
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_RENAME_NOREPLACE = 1
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True, slots=True)
class Entry:
    """A file or directory as clients see it (`path` under `/workspace`)."""

    path: str
    is_dir: bool
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, virtual: str, st: os.stat_result) -> Entry:
        return cls(virtual, stat.S_ISDIR(st.st_mode), st.st_size, st.st_mtime_ns,
                   st.st_ctime_ns, st.st_ino)  # fmt: skip

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def mtime_ms(self) -> float:
        return self.mtime_ns / 1e6

    @property
    def ctime_ms(self) -> float:
        # Linux's os.stat has no birth time; the last status change is the closest it offers.
        return self.ctime_ns / 1e6

    @property
    def modified_at(self) -> datetime:
        return datetime.fromtimestamp(self.mtime_ns / 1e9, UTC)

    @property
    def etag(self) -> str | None:
        """OAH's weak etag: `W/"<size hex>-<mtimeMs hex>-<inode hex>"` (files only)."""
        if self.is_dir:
            return None
        return f'W/"{self.size:x}-{self.mtime_ns // 1_000_000:x}-{self.inode:x}"'

    @property
    def mime_type(self) -> str | None:
        if self.is_dir:
            return None
        return mimetypes.guess_type(self.name, strict=False)[0] or "application/octet-stream"


# ------------------------------------------------------------------------------ errors


def _conflict(code: str, message: str, virtual: str) -> CorralError:
    return CorralError(code, 409, message, {"path": virtual})


def _file_not_found(virtual: str) -> CorralError:
    return CorralError("workspace_file_not_found", 404, f"{virtual} does not exist",
                       {"path": virtual})  # fmt: skip


def _precondition_failed(virtual: str, if_match: str) -> CorralError:
    return CorralError(
        "workspace_precondition_failed", 412,
        f"{virtual} does not match the etag {if_match}", {"path": virtual, "ifMatch": if_match},
    )  # fmt: skip


_OS_ERRORS: dict[int, tuple[str, int, str]] = {
    errno.EEXIST: ("workspace_entry_exists", 409, "the target already exists"),
    errno.ENOTEMPTY: ("workspace_directory_not_empty", 409, "the directory is not empty"),
    errno.EISDIR: ("workspace_entry_conflict", 409, "a directory is in the way"),
    errno.ENOTDIR: ("workspace_entry_conflict", 409, "a path component is not a directory"),
    errno.EINVAL: ("workspace_entry_conflict", 409, "a directory cannot move into itself"),
    errno.EXDEV: ("workspace_entry_conflict", 409, "source and target are on different mounts"),
    errno.EBUSY: ("workspace_entry_conflict", 409, "the entry is in use"),
    errno.ELOOP: ("invalid_sandbox_path", 400, "the path changed while it was used"),
    errno.ENAMETOOLONG: ("invalid_sandbox_path", 400, "the name is too long"),
    errno.EACCES: ("forbidden", 403, "the server may not access this entry"),
    errno.EPERM: ("forbidden", 403, "the server may not change this entry"),
    errno.EROFS: ("workspace_read_only", 403, "the workspace is on a read-only file system"),
    errno.ENOSPC: ("insufficient_storage", 507, "no space left on the workspace's disk"),
    errno.EDQUOT: ("insufficient_storage", 507, "the disk quota is exhausted"),
}


@contextmanager
def _os_errors(virtual: str) -> Iterator[None]:
    """Expected file-system failures become client errors; anything else stays a 500."""
    try:
        yield
    except FileNotFoundError as exc:
        raise entry_not_found(virtual) from exc
    except OSError as exc:
        known = _OS_ERRORS.get(exc.errno or 0)
        if known is None:
            raise
        code, status, message = known
        raise CorralError(code, status, f"{virtual}: {message}", {"path": virtual}) from exc


# ------------------------------------------------------------------------------ reading


def stat_entry(root: Path, path: str) -> Entry:
    with resolve(root, path) as target:
        return Entry.of(target.virtual, _existing(target))


def list_entries(
    root: Path, path: str, *, sort_by: SortKey, descending: bool
) -> tuple[Entry, list[Entry]]:
    """The directory and its direct children, sorted (name breaks ties).

    A symlinked child is shown with what it points to; children that are special files, or
    links leading outside the root or nowhere, are left out (no route could use them).
    """
    with resolve(root, path) as target, _os_errors(target.virtual):
        directory = Entry.of(target.virtual, _existing(target))
        if not directory.is_dir:
            raise _conflict("workspace_entry_conflict", f"{target.virtual} is not a directory",
                            target.virtual)  # fmt: skip
        fd = os.open(target.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                     dir_fd=target.parent_fd)  # fmt: skip
        try:
            children = [_child(root, directory.path, d) for d in os.scandir(fd)]
        finally:
            os.close(fd)
    entries = [c for c in children if c is not None]
    key = _SORT_KEYS[sort_by]
    entries.sort(key=lambda e: e.name)
    entries.sort(key=key, reverse=descending)
    return directory, entries


_SORT_KEYS = {
    "name": lambda e: e.name,
    "updatedAt": lambda e: e.mtime_ns,
    "sizeBytes": lambda e: 0 if e.is_dir else e.size,
    "type": lambda e: not e.is_dir,  # directories first
}


def _child(root: Path, parent: str, dirent: os.DirEntry[str]) -> Entry | None:
    virtual = f"{parent}/{dirent.name}"
    try:
        st = dirent.stat(follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            with resolve(root, virtual) as target:
                st = _existing(target)
    except (CorralError, FileNotFoundError):
        return None
    if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        return None
    return Entry.of(virtual, st)


def read_file(root: Path, path: str, *, limit: int) -> tuple[Entry, bytes, bool]:
    """The first `limit` bytes of a file, and whether there were more."""
    with resolve(root, path) as target, _open_file(target) as fd:
        entry = Entry.of(target.virtual, os.fstat(fd))
        data = _read_up_to(fd, limit + 1)
    return entry, data[:limit], len(data) > limit


def open_download(root: Path, path: str) -> tuple[int, Entry]:
    """An fd open on the file (the caller closes it) and the entry it was opened as."""
    with resolve(root, path) as target, _open_file(target) as fd:
        entry = Entry.of(target.virtual, os.fstat(fd))
        return os.dup(fd), entry


@contextmanager
def _open_file(target: Target) -> Iterator[int]:
    """Open a regular file for reading: `O_NOFOLLOW` relative to its directory, and checked
    with `fstat` after opening (`O_NONBLOCK`: a FIFO swapped in cannot block the open)."""
    if not target.exists:
        raise _file_not_found(target.virtual)
    with _os_errors(target.virtual):
        fd = os.open(target.name, _READ_FLAGS, dir_fd=target.parent_fd)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise _conflict("workspace_entry_conflict", f"{target.virtual} is a directory",
                            target.virtual)  # fmt: skip
        if not stat.S_ISREG(mode):
            raise invalid_path(target.virtual, "not a regular file")
        yield fd
    finally:
        os.close(fd)


def _read_up_to(fd: int, limit: int) -> bytes:
    chunks, remaining = [], limit
    while remaining > 0:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _existing(target: Target) -> os.stat_result:
    if target.stat is None:
        raise entry_not_found(target.virtual)
    return target.stat


# ------------------------------------------------------------------------------ writing


class FileWriter:
    """A file being written: bytes go to a temp file beside the target (created with
    `O_EXCL|O_NOFOLLOW` in the parent fd) and `commit` renames it over the target.

    Preconditions are checked when the writer opens (to fail before a long upload) and again
    under the directory lock right before the rename. `close` without `commit` removes the temp
    file; it waits for a `write` running in another thread, so an abandoned upload never
    writes to a closed (and maybe reused) fd.
    """

    def __init__(self, root: Path, path: str, *, overwrite: bool, if_match: str | None) -> None:
        self.overwrite = overwrite
        self.if_match = if_match
        self._lock = threading.Lock()
        self._stack = ExitStack()
        self._fd: int | None = None
        try:
            self.target = self._open_target(root, path)
            _check_replaceable(self.target.stat, self.target.virtual, overwrite, if_match)
            self._temp = f"{TEMP_PREFIX}{secrets.token_hex(8)}.tmp"
            with _os_errors(self.target.virtual):
                self._fd = os.open(
                    self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                    | os.O_CLOEXEC, 0o644, dir_fd=self.target.parent_fd,
                )  # fmt: skip
        except BaseException:
            self._stack.close()
            raise

    def _open_target(self, root: Path, path: str) -> Target:
        # Parents are created only for a write that can succeed: with ifMatch the file (and so
        # its directory) must already exist.
        try:
            return self._stack.enter_context(
                resolve(root, path, create_parents=self.if_match is None)
            )
        except CorralError as exc:
            if self.if_match is not None and exc.code == "workspace_entry_not_found":
                raise _precondition_failed(path, self.if_match) from exc
            raise

    def write(self, data: bytes | bytearray | memoryview) -> None:
        with self._lock:
            fd = self._require_open()
            view = memoryview(data)
            with _os_errors(self.target.virtual):
                while view:
                    view = view[os.write(fd, view) :]

    def commit(self, mtime_ms: float | None = None) -> Entry:
        with self._lock:
            fd = self._require_open()
            target = self.target
            with _os_errors(target.virtual):
                if mtime_ms is not None:
                    mtime_ns = int(mtime_ms * 1_000_000)
                    os.utime(fd, ns=(mtime_ns, mtime_ns))
                os.fsync(fd)
                with _locked_directory(target.parent_fd) as dir_fd:
                    current = lstat_at(target.parent_fd, target.name)
                    _check_replaceable(current, target.virtual, self.overwrite, self.if_match)
                    if current is not None:
                        os.fchmod(fd, stat.S_IMODE(current.st_mode))
                    _rename(target.parent_fd, self._temp, target.parent_fd, target.name,
                            replace=self.overwrite)  # fmt: skip
                    os.fsync(dir_fd)
                entry = Entry.of(target.virtual, os.fstat(fd))
            self._close_fd(unlink=False)
            return entry

    def close(self) -> None:
        with self._lock:
            self._close_fd(unlink=True)
            self._stack.close()

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _require_open(self) -> int:
        if self._fd is None:
            raise RuntimeError("the writer is closed")
        return self._fd

    def _close_fd(self, *, unlink: bool) -> None:
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        if unlink:
            with suppress(FileNotFoundError):
                os.unlink(self._temp, dir_fd=self.target.parent_fd)


def write_file(
    root: Path, path: str, data: bytes, *, overwrite: bool, if_match: str | None
) -> Entry:
    with FileWriter(root, path, overwrite=overwrite, if_match=if_match) as writer:
        writer.write(data)
        return writer.commit()


def _check_replaceable(
    current: os.stat_result | None, virtual: str, overwrite: bool, if_match: str | None
) -> None:
    if current is None:
        if if_match is not None:
            raise _precondition_failed(virtual, if_match)
        return
    if stat.S_ISDIR(current.st_mode):
        raise _conflict("workspace_entry_conflict", f"{virtual} is a directory", virtual)
    if not overwrite:
        raise _conflict("workspace_entry_exists", f"{virtual} already exists", virtual)
    if if_match is not None and not (
        stat.S_ISREG(current.st_mode) and etags_equal(Entry.of(virtual, current).etag, if_match)
    ):
        raise _precondition_failed(virtual, if_match)


def etags_equal(etag: str | None, other: str) -> bool:
    """Weak comparison (RFC 9110 §8.8.3.2): the `W/` prefix does not matter."""
    return etag is not None and etag.removeprefix("W/") == other.strip().removeprefix("W/")


@contextmanager
def _locked_directory(dir_path_fd: int) -> Iterator[int]:
    """An exclusive `flock` on a directory (held by an fd that can also be fsynced)."""
    fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_path_fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _rename(src_dir: int, src: str, dst_dir: int, dst: str, *, replace: bool) -> None:
    if replace:
        os.rename(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
        return
    # renameat2(RENAME_NOREPLACE): fails with EEXIST instead of replacing, atomically.
    if _libc.renameat2(src_dir, os.fsencode(src), dst_dir, os.fsencode(dst), _RENAME_NOREPLACE):
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


# ------------------------------------------------------------------------------ tree changes


def make_directory(root: Path, path: str, *, create_parents: bool) -> Entry:
    """Create a directory; an existing one is fine (idempotent)."""
    with resolve(root, path, create_parents=create_parents) as target:
        with _os_errors(target.virtual):
            if target.stat is None:
                with suppress(FileExistsError):  # a concurrent creator: fine if a directory
                    os.mkdir(target.name, 0o755, dir_fd=target.parent_fd)
                target.refresh()
        if target.stat is None or not stat.S_ISDIR(target.stat.st_mode):
            raise _conflict("workspace_entry_conflict", f"{target.virtual} exists and is not a "
                            "directory", target.virtual)  # fmt: skip
        return Entry.of(target.virtual, target.stat)


def delete_entry(root: Path, path: str, *, recursive: bool) -> Entry:
    """Delete a file, a symlink (not what it points to) or a directory; return what it was."""
    with resolve(root, path, follow=False) as target:
        _refuse_root(target, path)
        entry = Entry.of(target.virtual, _existing(target))
        with _os_errors(target.virtual):
            if not entry.is_dir:
                os.unlink(target.name, dir_fd=target.parent_fd)
            elif recursive:
                shutil.rmtree(target.name, dir_fd=target.parent_fd)  # fd-based, link-safe
            else:
                os.rmdir(target.name, dir_fd=target.parent_fd)
        return entry


def move_entry(root: Path, source: str, target_path: str, *, overwrite: bool) -> Entry:
    """Rename `source` to `target_path` (parents created); a symlink moves as a link."""
    with resolve(root, source, follow=False) as src:
        _refuse_root(src, source)
        _existing(src)
        with resolve(root, target_path, follow=False, create_parents=True) as dst:
            _refuse_root(dst, target_path)
            if dst.exists and not overwrite:
                raise _conflict("workspace_entry_exists", f"{dst.virtual} already exists",
                                dst.virtual)  # fmt: skip
            with _os_errors(dst.virtual):
                _rename(src.parent_fd, src.name, dst.parent_fd, dst.name, replace=overwrite)
            return Entry.of(dst.virtual, _existing(_refreshed(dst)))


def _refreshed(target: Target) -> Target:
    target.refresh()
    return target


def _refuse_root(target: Target, raw: str) -> None:
    if target.is_root:
        raise invalid_path(raw, "the workspace root itself cannot be deleted or moved")
