"""Walking the files of a directory tree inside a workspace root without ever leaving it.

The start is resolved like any other path (`paths.resolve`, so it may be a link that stays
inside the root). Below it the walk never follows a symbolic link: each child directory is
opened relative to its parent's fd with `O_NOFOLLOW|O_DIRECTORY`, so a directory swapped for a
link while the walk runs fails to open and is skipped. Links and special files are not yielded.
Blocking (run it in a thread).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from corral.sandbox.entries import existing, os_errors
from corral.sandbox.paths import Target, resolve

MAX_DEPTH = 100  # directories below the start; one fd is held open per level
_DIR_READ = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def walk_files(
    root: Path, path: str, *, skip_dirs: frozenset[str] = frozenset()
) -> Iterator[tuple[str, Target]]:
    """Every regular file below `path` (or `path` itself when it is a file) with its path
    relative to `path`, depth first, names sorted. A yielded `Target`'s fd is valid only until
    the next file is asked for. Directories named in `skip_dirs` (e.g. `.git`), directories the
    server may not read and those deeper than `MAX_DEPTH` are passed over."""
    with resolve(root, path) as start, os_errors(start.virtual):
        if not stat.S_ISDIR(existing(start).st_mode):
            yield start.name, start
            return
        fd = os.open(start.name, _DIR_READ, dir_fd=start.parent_fd)
        try:
            yield from _walk_dir(fd, start.virtual, "", skip_dirs, MAX_DEPTH)
        finally:
            os.close(fd)


def _walk_dir(
    fd: int, virtual: str, relative: str, skip_dirs: frozenset[str], depth: int
) -> Iterator[tuple[str, Target]]:
    try:
        with os.scandir(fd) as listing:
            children = sorted(listing, key=lambda d: d.name)
    except OSError:
        return
    subdirs = []
    for child in children:
        try:
            st = child.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # removed meanwhile
        below = f"{relative}/{child.name}" if relative else child.name
        if stat.S_ISREG(st.st_mode):
            yield below, Target(fd, child.name, f"{virtual}/{child.name}", st)
        elif stat.S_ISDIR(st.st_mode) and child.name not in skip_dirs:
            subdirs.append((child.name, below))
    if depth == 0:
        return
    for name, below in subdirs:
        try:
            child_fd = os.open(name, _DIR_READ, dir_fd=fd)
        except OSError:
            continue  # gone, swapped for a link or unreadable
        try:
            yield from _walk_dir(child_fd, f"{virtual}/{name}", below, skip_dirs, depth - 1)
        finally:
            os.close(child_fd)
