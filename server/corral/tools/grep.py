"""Grep: a Python regular expression searched line by line through the workspace's text files
(pure Python, nothing installed needed). Skips `.git`, binary files (a NUL byte near the start)
and files too large to search."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from corral.errors import CorralError
from corral.sandbox.files import read_target
from corral.sandbox.walk import walk_files
from corral.tools.base import ToolContext, ToolError, ToolResult
from corral.tools.native import (
    BINARY_PROBE_BYTES,
    MAX_WALKED_FILES,
    SKIPPED_DIRS,
    NativeTool,
    cut_line,
    schema,
)
from corral.tools.patterns import glob_regex
from corral.tools.workspace import in_workspace, sandbox_path, shown

Mode = Literal["files_with_matches", "content", "count"]
MAX_GREP_RESULTS = 250
MAX_GREP_FILE_BYTES = 8 * 1024 * 1024


@dataclass(slots=True)
class _FileHit:
    path: str  # as shown
    mtime_ns: int
    count: int  # matching lines
    lines: list[tuple[int, str]]  # (number, text) of those kept for the content mode


@dataclass(slots=True)
class _Search:
    regex: re.Pattern[str]
    wanted: Callable[[str], bool]  # by the path relative to the search's start
    mode: Mode
    limit: int
    hits: list[_FileHit] = field(default_factory=list)
    kept_lines: int = 0
    cut: bool = False  # stopped at `limit` with more to find
    complete: bool = True  # the whole tree was walked
    too_large: int = 0

    def run(self, root: Path, start: str) -> _Search:
        walk = walk_files(root, start, skip_dirs=SKIPPED_DIRS)
        for walked, (relative, target) in enumerate(walk):
            if walked == MAX_WALKED_FILES:
                self.complete = False
                break
            if not self.wanted(relative) or target.stat is None:
                continue
            if target.stat.st_size > MAX_GREP_FILE_BYTES:
                self.too_large += 1
                continue
            try:
                entry, data, _ = read_target(target, limit=MAX_GREP_FILE_BYTES)
            except CorralError:
                continue  # changed or removed since the walk saw it
            if b"\0" not in data[:BINARY_PROBE_BYTES]:
                self._search_file(shown(entry.path), entry.mtime_ns, data)
            if self.cut:
                break
        if self.mode == "files_with_matches":  # newest first, so every match had to be seen
            self.hits.sort(key=lambda hit: (-hit.mtime_ns, hit.path))
            self.cut = len(self.hits) > self.limit
            del self.hits[self.limit :]
        return self

    def _search_file(self, path: str, mtime_ns: int, data: bytes) -> None:
        lines = data.decode("utf-8", "replace").split("\n")
        if lines[-1] == "":
            lines.pop()  # the file's final newline ends a line, it does not start one
        hit = _FileHit(path, mtime_ns, 0, [])
        for number, line in enumerate(lines, 1):
            text = line.removesuffix("\r")
            if not self.regex.search(text):
                continue
            hit.count += 1
            if self.mode == "files_with_matches":
                break
            if self.mode == "content":
                if self.kept_lines == self.limit:
                    self.cut = True
                    break
                hit.lines.append((number, cut_line(text)))
                self.kept_lines += 1
        if not hit.count:
            return
        if self.mode == "count" and len(self.hits) == self.limit:
            self.cut = True
        else:
            self.hits.append(hit)


async def _grep(ctx: ToolContext, input: dict[str, Any]) -> ToolResult:
    try:
        regex = re.compile(input["pattern"], re.IGNORECASE if input.get("-i") else 0)
    except re.error as exc:
        raise ToolError("invalid_pattern", f"pattern is not a valid Python regex: {exc}") from None
    mode: Mode = input.get("output_mode", "files_with_matches")
    search = _Search(
        regex, _file_filter(input.get("glob")), mode, input.get("head_limit", MAX_GREP_RESULTS)
    )
    start = sandbox_path(ctx, input.get("path", "."))
    await in_workspace(search.run, ctx.root, start)
    lines = _render(search, numbered=input.get("-n", True))
    if search.cut:
        lines.append(f"[results cut at {search.limit}: narrow the pattern, path or glob]")
    if not search.complete:
        lines.append(f"[search stopped after {MAX_WALKED_FILES} files: narrow the path]")
    if search.too_large:
        lines.append(f"[{search.too_large} files over {MAX_GREP_FILE_BYTES} bytes not searched]")
    return ToolResult.text("\n".join(lines), files=len(search.hits))


def _file_filter(glob: str | None) -> Callable[[str], bool]:
    """A glob without `/` matches file names at any depth, one with `/` relative paths."""
    if glob is None:
        return lambda _: True
    regex = glob_regex(glob)
    if "/" in glob:
        return lambda relative: regex.fullmatch(relative) is not None
    return lambda relative: regex.fullmatch(relative.rsplit("/", 1)[-1]) is not None


def _render(search: _Search, *, numbered: bool) -> list[str]:
    if not search.hits:
        return ["No matches found."]
    if search.mode == "count":
        return [f"{hit.path}:{hit.count}" for hit in search.hits]
    if search.mode == "content":
        return [
            f"{hit.path}:{n}:{text}" if numbered else f"{hit.path}:{text}"
            for hit in search.hits
            for n, text in hit.lines
        ]
    return [hit.path for hit in search.hits]


GREP = NativeTool(
    name="Grep",
    description=(
        "Search file contents with a Python regular expression, line by line, under a file or "
        "directory of the workspace. output_mode: files_with_matches (default; paths, most "
        "recently modified first), content (`path:line:text`), or count (`path:matches`). "
        "Skips `.git` and binary files."
    ),
    input_schema=schema(
        {
            "pattern": {
                "type": "string",
                "minLength": 1,
                "description": "A Python `re` regular expression.",
            },
            "path": {
                "type": "string",
                "description": "The file or directory to search (default: the workspace "
                "root); relative to the root, or absolute inside it.",
            },
            "glob": {
                "type": "string",
                "description": "Search only files matching this glob, e.g. `*.py` (a "
                "name at any depth) or `src/**/*.ts` (a path below `path`).",
            },
            "output_mode": {"type": "string", "enum": ["files_with_matches", "content", "count"]},
            "-i": {"type": "boolean", "description": "Ignore case."},
            "-n": {
                "type": "boolean",
                "description": "Show line numbers in content mode (default true).",
            },
            "head_limit": {
                "type": "integer",
                "minimum": 1,
                "description": f"At most this many lines or files (default {MAX_GREP_RESULTS}).",
            },
        },
        "pattern",
    ),
    handler=_grep,
)
