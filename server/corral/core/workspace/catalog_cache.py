"""Workspace catalogs, parsed once and reused until the declaration files change.

Every run and several requests need the catalog, and parsing its YAML costs milliseconds. A
cached catalog is reused while the signature of `AGENTS.md` and `.corral/` (name, inode, size
and mtime of every entry, read without following links) is unchanged. The signature is a stat
walk of a few dozen entries, done off the event loop like the parse: the workspace is on disk
and agent-writable. `.corral/tasks/` (background command logs, which grow all the time) is not
part of it, and a `.corral/` of more than MAX_ENTRIES entries is not cached at all: its walk
stops there and every call parses it anew.
Catalogs handed out are shared: callers must not modify them.
"""

from __future__ import annotations

import asyncio
import os
import stat
import threading
from collections import OrderedDict
from itertools import islice
from pathlib import Path

from corral.core.workspace.catalog import GUIDANCE_FILE, Catalog, load_catalog

MAX_WORKSPACES = 512
MAX_ENTRIES = 2048  # a real catalog has dozens
_DEPTH = 3  # .corral/skills/<name>/SKILL.md is the deepest file the catalog reads
_UNWATCHED = {".corral/tasks"}  # written by background commands, never read by the catalog

Signature = tuple[tuple[str, int, int, int], ...]

_lock = threading.Lock()
_cache: OrderedDict[Path, tuple[Signature, Catalog]] = OrderedDict()


async def workspace_catalog(root: Path) -> Catalog:
    signature = await asyncio.to_thread(_signature, root)
    with _lock:
        hit = _cache.get(root)
        if hit is not None and signature is not None and hit[0] == signature:
            _cache.move_to_end(root)
            return hit[1]
    catalog = await asyncio.to_thread(load_catalog, root)
    with _lock:
        if signature is None:
            _cache.pop(root, None)
            return catalog
        _cache[root] = (signature, catalog)
        _cache.move_to_end(root)
        while len(_cache) > MAX_WORKSPACES:
            _cache.popitem(last=False)
    return catalog


class _TooMany(Exception):
    pass


def _signature(root: Path) -> Signature | None:
    """None when `.corral/` holds more than MAX_ENTRIES entries."""
    entries: list[tuple[str, int, int, int]] = []
    try:
        for top in (GUIDANCE_FILE, ".corral"):
            try:
                st = os.lstat(root / top)
            except OSError:
                entries.append((top, 0, 0, 0))
                continue
            entries.append((top, st.st_ino, st.st_size, st.st_mtime_ns))
            if stat.S_ISDIR(st.st_mode):
                _walk(root, top, 1, entries)
    except _TooMany:
        return None
    return tuple(entries)


def _walk(root: Path, rel: str, depth: int, into: list[tuple[str, int, int, int]]) -> None:
    """Every entry below `rel`, never through a link (scandir reports types without a stat
    of its own, so this is one lstat per entry)."""
    room = MAX_ENTRIES - len(into)
    try:
        with os.scandir(root / rel) as listing:
            found = list(islice(listing, room + 1))  # a huge directory is never read whole
    except OSError:
        return
    if len(found) > room:
        raise _TooMany
    for entry in sorted(found, key=lambda entry: entry.name):
        path = f"{rel}/{entry.name}"
        if path in _UNWATCHED:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if len(into) >= MAX_ENTRIES:
            raise _TooMany
        into.append((path, st.st_ino, st.st_size, st.st_mtime_ns))
        if depth < _DEPTH and entry.is_dir(follow_symlinks=False):
            _walk(root, path, depth + 1, into)
