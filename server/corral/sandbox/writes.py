"""Changing files inside a workspace root: write and upload, mkdir, delete, move.

Writes land in a temp file beside the target and are renamed over it, so readers never see
half a file; the check of `overwrite`/`ifMatch` and the rename happen under an exclusive `flock`
of the parent directory, so concurrent writers with `ifMatch` cannot both succeed against the
same version (across processes too).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import secrets
import shutil
import stat
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from corral.errors import CorralError
from corral.sandbox.entries import (
    Entry,
    conflict,
    etags_equal,
    existing,
    os_errors,
    precondition_failed,
)
from corral.sandbox.paths import Target, invalid_path, lstat_at, resolve

TEMP_PREFIX = ".corral-upload-"
_RENAME_NOREPLACE = 1
_libc = ctypes.CDLL(None, use_errno=True)


class FileWriter:
    """A file being written: bytes go to a temp file beside the target (created with
    `O_EXCL|O_NOFOLLOW` in the parent fd) and `commit` renames it over the target.

    Preconditions are checked when the writer opens (to fail before a long upload) and again
    under the directory lock right before the rename. `close` without `commit` removes the temp
    file; it waits for a `write` running in another thread, so an abandoned upload never
    writes to a closed (and maybe reused) fd.
    """

    def __init__(self, root: Path, path: str, *, overwrite: bool, if_match: str | None) -> None:
        if_match = if_match or None  # an empty ifMatch is no condition (as for OAH)
        self.overwrite = overwrite
        self.if_match = if_match
        self._lock = threading.Lock()
        self._stack = ExitStack()
        self._fd: int | None = None
        try:
            self.target = self._open_target(root, path)
            _check_replaceable(self.target.stat, self.target.virtual, overwrite, if_match)
            self._temp = f"{TEMP_PREFIX}{secrets.token_hex(8)}.tmp"
            with os_errors(self.target.virtual):
                self._fd = os.open(
                    self._temp,
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o644,
                    dir_fd=self.target.parent_fd,
                )
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
                raise precondition_failed(path, self.if_match) from exc
            raise

    def write(self, data: bytes | bytearray | memoryview) -> None:
        with self._lock:
            fd = self._require_open()
            view = memoryview(data)
            with os_errors(self.target.virtual):
                while view:
                    view = view[os.write(fd, view) :]

    def commit(self, mtime_ms: float | None = None) -> Entry:
        with self._lock:
            fd = self._require_open()
            target = self.target
            with os_errors(target.virtual):
                if mtime_ms is not None:
                    mtime_ns = int(mtime_ms * 1_000_000)
                    os.utime(fd, ns=(mtime_ns, mtime_ns))
                os.fsync(fd)
                with _locked_directory(target.parent_fd) as dir_fd:
                    current = lstat_at(target.parent_fd, target.name)
                    _check_replaceable(current, target.virtual, self.overwrite, self.if_match)
                    if current is not None:
                        os.fchmod(fd, stat.S_IMODE(current.st_mode))
                    _rename(
                        target.parent_fd,
                        self._temp,
                        target.parent_fd,
                        target.name,
                        replace=self.overwrite,
                    )
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
            raise precondition_failed(virtual, if_match)
        return
    if stat.S_ISDIR(current.st_mode):
        raise conflict("workspace_entry_conflict", f"{virtual} is a directory", virtual)
    if not overwrite:
        raise conflict("workspace_entry_exists", f"{virtual} already exists", virtual)
    if if_match is not None and not (
        stat.S_ISREG(current.st_mode)
        # `*` is any current version (RFC 9110 §13.1.1): the file only has to exist.
        and (if_match.strip() == "*" or etags_equal(Entry.of(virtual, current).etag, if_match))
    ):
        raise precondition_failed(virtual, if_match)


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
        with os_errors(target.virtual):
            if target.stat is None:
                with suppress(FileExistsError):  # a concurrent creator: fine if a directory
                    os.mkdir(target.name, 0o755, dir_fd=target.parent_fd)
                target.refresh()
        if target.stat is None or not stat.S_ISDIR(target.stat.st_mode):
            raise conflict(
                "workspace_entry_conflict",
                f"{target.virtual} exists and is not a directory",
                target.virtual,
            )
        return Entry.of(target.virtual, target.stat)


def delete_entry(root: Path, path: str, *, recursive: bool) -> Entry:
    """Delete a file, a symlink (not what it points to) or a directory; return what it was."""
    with resolve(root, path, follow=False) as target:
        _refuse_root(target, path)
        entry = Entry.of(target.virtual, existing(target))
        with os_errors(target.virtual):
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
        existing(src)
        with resolve(root, target_path, follow=False, create_parents=True) as dst:
            _refuse_root(dst, target_path)
            if dst.exists and not overwrite:
                raise conflict(
                    "workspace_entry_exists", f"{dst.virtual} already exists", dst.virtual
                )
            with os_errors(dst.virtual):
                _rename(src.parent_fd, src.name, dst.parent_fd, dst.name, replace=overwrite)
            return Entry.of(dst.virtual, existing(_refreshed(dst)))


def _refreshed(target: Target) -> Target:
    target.refresh()
    return target


def _refuse_root(target: Target, raw: str) -> None:
    if target.is_root:
        raise invalid_path(raw, "the workspace root itself cannot be deleted or moved")
