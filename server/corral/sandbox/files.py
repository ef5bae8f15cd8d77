"""File operations inside a workspace root: list, stat, read and download here; write, upload,
mkdir, delete and move in `writes`. Blocking calls (run them in a thread); failures are
`CorralError`s.

Every operation resolves its path with `paths.resolve` and then acts relative to the parent
directory fd, never through a path string.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from corral.errors import CorralError
from corral.sandbox.entries import Entry, conflict, existing, file_not_found, os_errors
from corral.sandbox.paths import Target, invalid_path, resolve

SortKey = Literal["name", "updatedAt", "sizeBytes", "type"]
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def stat_entry(root: Path, path: str) -> Entry:
    with resolve(root, path) as target:
        return Entry.of(target.virtual, existing(target))


def list_entries(
    root: Path, path: str, *, sort_by: SortKey, descending: bool
) -> tuple[Entry, list[Entry]]:
    """The directory and its direct children, sorted (name breaks ties).

    A symlinked child is shown with what it points to; children that are special files, or
    links leading outside the root or nowhere, are left out (no route could use them).
    """
    with resolve(root, path) as target, os_errors(target.virtual):
        directory = Entry.of(target.virtual, existing(target))
        if not directory.is_dir:
            raise conflict(
                "workspace_entry_conflict", f"{target.virtual} is not a directory", target.virtual
            )
        fd = os.open(
            target.name,
            os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
            dir_fd=target.parent_fd,
        )
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
                st = existing(target)
    except (CorralError, FileNotFoundError):
        return None
    if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        return None
    return Entry.of(virtual, st)


def read_file(root: Path, path: str, *, limit: int) -> tuple[Entry, bytes, bool]:
    """The first `limit` bytes of a file, and whether there were more."""
    with resolve(root, path) as target:
        return read_target(target, limit=limit)


def read_target(target: Target, *, limit: int) -> tuple[Entry, bytes, bool]:
    """`read_file` for a target already resolved (or met by `walk.walk_files`)."""
    with _open_file(target) as fd:
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
        raise file_not_found(target.virtual)
    with os_errors(target.virtual):
        fd = os.open(target.name, _READ_FLAGS, dir_fd=target.parent_fd)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise conflict(
                "workspace_entry_conflict", f"{target.virtual} is a directory", target.virtual
            )
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
