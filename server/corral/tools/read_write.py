"""Read (a text file, numbered like `cat -n`) and Write (a whole file, atomically)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from corral.sandbox.files import open_download
from corral.sandbox.writes import write_file
from corral.tools.base import ToolContext, ToolError, ToolResult
from corral.tools.native import (
    BINARY_PROBE_BYTES,
    FILE_PATH,
    MAX_LINE_CHARS,
    NativeTool,
    cut_line,
    schema,
    utf8,
)
from corral.tools.workspace import check_writable, in_workspace, sandbox_path, shown

MAX_READ_LINES = 2000
MAX_READ_CHARS = 256 * 1024  # 2000 long lines would still flood the context
# Enough bytes for MAX_LINE_CHARS characters in any UTF-8; the rest of a line is skipped.
_MAX_LINE_BYTES = 4 * MAX_LINE_CHARS


async def _read(ctx: ToolContext, input: dict[str, Any]) -> ToolResult:
    path = sandbox_path(ctx, input["file_path"])
    offset, limit = input.get("offset", 1), input.get("limit", MAX_READ_LINES)
    return await in_workspace(_numbered, ctx.root, path, offset, limit)


def _numbered(root: Path, path: str, offset: int, limit: int) -> ToolResult:
    fd, entry = open_download(root, path)
    with os.fdopen(fd, "rb") as file:
        if b"\0" in os.pread(fd, BINARY_PROBE_BYTES, 0):
            raise ToolError(
                "binary_file", f"{shown(entry.path)} is a binary file; Read shows text only"
            )
        lines: list[str] = []
        size = number = 0
        more = False
        for number, raw in enumerate(_lines(file), 1):
            if number < offset:
                continue
            if len(lines) == limit or size > MAX_READ_CHARS:
                more = True
                break
            text = raw.removesuffix(b"\n").removesuffix(b"\r").decode("utf-8", "replace")
            lines.append(f"{number:>6}\t{cut_line(text)}")
            size += len(lines[-1])
    if more:
        lines.append(f"… more lines follow: continue with offset={number}")
    elif number == 0:
        lines.append("(the file is empty)")
    elif not lines:
        lines.append(f"(the file has {number} lines; offset {offset} is past its end)")
    return ToolResult.text("\n".join(lines), path=shown(entry.path))


def _lines(file: IO[bytes]) -> Iterator[bytes]:
    """The file's lines, each cut at `_MAX_LINE_BYTES` (the rest is read and dropped)."""
    while line := file.readline(_MAX_LINE_BYTES):
        if not line.endswith(b"\n"):
            while (rest := file.readline(_MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
        yield line


async def _write(ctx: ToolContext, input: dict[str, Any]) -> ToolResult:
    check_writable(ctx)
    path = sandbox_path(ctx, input["file_path"])
    data = utf8(input["content"], "content")
    entry = await in_workspace(write_file, ctx.root, path, data, overwrite=True, if_match=None)
    return ToolResult.text(
        f"Wrote {len(data)} bytes to {shown(entry.path)}.", path=shown(entry.path)
    )


READ = NativeTool(
    name="Read",
    description=(
        "Read a text file of the workspace. Lines come numbered like `cat -n` (number, tab, "
        f"text); at most {MAX_READ_LINES} lines per call and {MAX_LINE_CHARS} characters per "
        "line. Page through long files with offset and limit. Binary files are refused."
    ),
    input_schema=schema(
        {
            "file_path": FILE_PATH,
            "offset": {
                "type": "integer",
                "minimum": 1,
                "description": "The first line to show, counted from 1.",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_READ_LINES,
                "description": f"How many lines to show (default {MAX_READ_LINES}).",
            },
        },
        "file_path",
    ),
    handler=_read,
)

WRITE = NativeTool(
    name="Write",
    description=(
        "Write a whole file of the workspace, replacing it if it exists; missing parent "
        "directories are created. The file is replaced atomically. To change part of an "
        "existing file, prefer Edit."
    ),
    input_schema=schema(
        {"file_path": FILE_PATH, "content": {"type": "string", "description": "The new text."}},
        "file_path",
        "content",
    ),
    handler=_write,
)
