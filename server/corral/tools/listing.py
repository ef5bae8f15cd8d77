"""LS (one directory's entries) and Glob (files matching a pattern, newest first)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from corral.sandbox.files import list_entries
from corral.sandbox.walk import walk_files
from corral.tools.base import ToolContext, ToolResult
from corral.tools.native import MAX_WALKED_FILES, SKIPPED_DIRS, NativeTool, schema
from corral.tools.patterns import glob_regex, split_pattern
from corral.tools.workspace import in_workspace, sandbox_path, shown

MAX_LS_ENTRIES = 1000
MAX_GLOB_RESULTS = 100


async def _ls(ctx: ToolContext, input: dict[str, Any]) -> ToolResult:
    path = sandbox_path(ctx, input.get("path", "."))
    ignored = [glob_regex(pattern) for pattern in input.get("ignore", [])]
    directory, entries = await in_workspace(
        list_entries, ctx.root, path, sort_by="name", descending=False
    )
    kept = [e for e in entries if not any(r.fullmatch(e.name) for r in ignored)]
    lines = [f"{shown(directory.path)}/"]
    for entry in kept[:MAX_LS_ENTRIES]:
        lines.append(f"  {entry.name}/" if entry.is_dir else f"  {entry.name}  ({entry.size} B)")
    if len(kept) > MAX_LS_ENTRIES:
        lines.append(f"  … and {len(kept) - MAX_LS_ENTRIES} more entries")
    if not kept:
        lines.append("  (empty)")
    return ToolResult.text("\n".join(lines), entries=len(kept))


async def _glob(ctx: ToolContext, input: dict[str, Any]) -> ToolResult:
    base, rest = split_pattern(input["pattern"])
    start = input.get("path", ".")
    if base.startswith("/"):
        start = base
    elif base:
        start = f"{start.rstrip('/')}/{base}"
    found, complete = await in_workspace(
        _matching, ctx.root, sandbox_path(ctx, start), glob_regex(rest)
    )
    found.sort(key=lambda hit: (-hit[0], hit[1]))
    lines = [shown(virtual) for _, virtual in found[:MAX_GLOB_RESULTS]]
    if not lines:
        lines.append("No files found.")
    if len(found) > MAX_GLOB_RESULTS:
        lines.append(f"[{MAX_GLOB_RESULTS} of {len(found)} files shown: narrow the pattern]")
    if not complete:
        lines.append(f"[search stopped after {MAX_WALKED_FILES} files: narrow the path]")
    return ToolResult.text("\n".join(lines), matches=len(found))


def _matching(root: Path, start: str, regex: re.Pattern[str]) -> tuple[list[tuple[int, str]], bool]:
    """(mtime, sandbox path) of the files below `start` whose relative path matches, and
    whether the whole tree was seen."""
    found: list[tuple[int, str]] = []
    for walked, (relative, target) in enumerate(walk_files(root, start, skip_dirs=SKIPPED_DIRS)):
        if walked == MAX_WALKED_FILES:
            return found, False
        if target.stat is not None and regex.fullmatch(relative):
            found.append((target.stat.st_mtime_ns, target.virtual))
    return found, True


_PATH = {
    "type": "string",
    "description": "A directory: relative to the workspace root (the default), or absolute "
    "inside it.",
}

LS = NativeTool(
    name="LS",
    description=(
        "List the entries of one directory of the workspace: subdirectories end with `/`, "
        "files show their size. Not recursive; use Glob to find files in a tree."
    ),
    input_schema=schema(
        {
            "path": _PATH,
            "ignore": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Glob patterns of entry names to leave out, e.g. `*.pyc`.",
            },
        }
    ),
    handler=_ls,
)

GLOB = NativeTool(
    name="Glob",
    description=(
        "Find files by path pattern, e.g. `**/*.py` or `src/**/*.{ts,tsx}`, relative to path. "
        "`*` stays within one directory, `**` spans directories. Returns matching file paths, "
        f"most recently modified first, at most {MAX_GLOB_RESULTS}. Skips `.git`."
    ),
    input_schema=schema(
        {
            "pattern": {"type": "string", "minLength": 1, "description": "The glob pattern."},
            "path": _PATH,
        },
        "pattern",
    ),
    handler=_glob,
)
