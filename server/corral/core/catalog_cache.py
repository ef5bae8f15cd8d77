"""Workspace catalogs, parsed once and reused until the declaration files change.

Every run and several requests need the catalog, and parsing its YAML costs milliseconds. A
cached catalog is reused while the signature of `AGENTS.md` and `.corral/` (name, inode, size
and mtime of every entry, read without following links) is unchanged: a stat walk of a few
dozen entries, cheap enough to do on the event loop, where a parse goes to a thread.
Catalogs handed out are shared: callers must not modify them.
"""

from __future__ import annotations

import asyncio
import os
import stat
import threading
from collections import OrderedDict
from pathlib import Path

from corral.core.catalog import GUIDANCE_FILE, Catalog, load_catalog

MAX_WORKSPACES = 512
_DEPTH = 3  # .corral/skills/<name>/SKILL.md is the deepest file the catalog reads

Signature = tuple[tuple[str, int, int, int], ...]

_lock = threading.Lock()
_cache: OrderedDict[Path, tuple[Signature, Catalog]] = OrderedDict()


async def workspace_catalog(root: Path) -> Catalog:
    signature = _signature(root)
    with _lock:
        hit = _cache.get(root)
        if hit is not None and hit[0] == signature:
            _cache.move_to_end(root)
            return hit[1]
    catalog = await asyncio.to_thread(load_catalog, root)
    with _lock:
        _cache[root] = (signature, catalog)
        _cache.move_to_end(root)
        while len(_cache) > MAX_WORKSPACES:
            _cache.popitem(last=False)
    return catalog


def _signature(root: Path) -> Signature:
    entries: list[tuple[str, int, int, int]] = []
    for top in (root / GUIDANCE_FILE, root / ".corral"):
        try:
            st = os.lstat(top)
        except OSError:
            entries.append((top.name, 0, 0, 0))
            continue
        entries.append((top.name, st.st_ino, st.st_size, st.st_mtime_ns))
        if stat.S_ISDIR(st.st_mode):
            _walk(str(top), 1, entries)
    return tuple(entries)


def _walk(path: str, depth: int, into: list[tuple[str, int, int, int]]) -> None:
    """Every entry below `path`, never through a link (scandir reports types without a
    stat of its own, so this is one lstat per entry)."""
    try:
        with os.scandir(path) as listing:
            found = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return
    for entry in found:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        into.append((entry.path, st.st_ino, st.st_size, st.st_mtime_ns))
        if depth < _DEPTH and entry.is_dir(follow_symlinks=False):
            _walk(entry.path, depth + 1, into)
