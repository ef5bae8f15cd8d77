"""Edit and MultiEdit: exact string replacements in one text file, all or nothing.

The file is written back only if it is still the version that was read (its etag), so an
edit never silently undoes a change made meanwhile by a command or another tool call.
"""

from __future__ import annotations

from typing import Any

from corral.sandbox.files import read_file
from corral.sandbox.writes import write_file
from corral.tools.base import ToolContext, ToolError, ToolResult
from corral.tools.native import BINARY_PROBE_BYTES, FILE_PATH, NativeTool, schema, utf8
from corral.tools.workspace import check_writable, in_workspace, sandbox_path, shown

MAX_EDIT_BYTES = 16 * 1024 * 1024


async def _edit(ctx: ToolContext, input: dict[str, Any]) -> ToolResult:
    return await _apply(ctx, input["file_path"], [input])


async def _multi_edit(ctx: ToolContext, input: dict[str, Any]) -> ToolResult:
    return await _apply(ctx, input["file_path"], input["edits"])


async def _apply(ctx: ToolContext, file_path: str, edits: list[dict[str, Any]]) -> ToolResult:
    check_writable(ctx)
    path = sandbox_path(ctx, file_path)
    entry, data, more = await in_workspace(read_file, ctx.root, path, limit=MAX_EDIT_BYTES)
    name = shown(entry.path)
    if more:
        raise ToolError("file_too_large", f"{name} is larger than {MAX_EDIT_BYTES} bytes")
    try:
        if b"\0" in data[:BINARY_PROBE_BYTES]:
            raise UnicodeError
        text = data.decode("utf-8")
    except UnicodeError:
        raise ToolError("binary_file", f"{name} is not a UTF-8 text file") from None
    replaced = 0
    for number, edit in enumerate(edits, 1):
        try:
            text, count = _replace(text, edit)
        except ToolError as exc:
            which = f"edit {number} of {len(edits)}: " if len(edits) > 1 else ""
            message = f"{name}: {which}{exc.message}; nothing was changed"
            raise ToolError(exc.code, message) from None
        replaced += count
    try:
        await in_workspace(
            write_file,
            ctx.root,
            entry.path,
            utf8(text, "new_string"),
            overwrite=True,
            if_match=entry.etag,
        )
    except ToolError as exc:
        if exc.code != "file_changed":
            raise
        message = f"{name} changed while it was edited; read it again"
        raise ToolError("file_changed", message) from None
    noun = "replacement" if replaced == 1 else "replacements"
    return ToolResult.text(f"Edited {name}: {replaced} {noun}.", path=name, replacements=replaced)


def _replace(text: str, edit: dict[str, Any]) -> tuple[str, int]:
    old, new = edit["old_string"], edit["new_string"]
    if old == new:
        raise ToolError("invalid_tool_input", "old_string and new_string are the same")
    found = text.count(old)
    if found == 0:
        raise ToolError(
            "edit_not_found",
            "old_string does not occur in the file (it must match exactly, whitespace and "
            "indentation included, without Read's line numbers)",
        )
    if found > 1 and not edit.get("replace_all", False):
        raise ToolError(
            "edit_ambiguous",
            f"old_string occurs {found} times; include more surrounding text to make it unique, "
            "or set replace_all",
        )
    return text.replace(old, new), found


_EDIT = {
    "old_string": {
        "type": "string",
        "minLength": 1,
        "description": "The exact text to replace; it must occur exactly once unless "
        "replace_all is set.",
    },
    "new_string": {"type": "string", "description": "The text to put in its place."},
    "replace_all": {
        "type": "boolean",
        "description": "Replace every occurrence of old_string (default false).",
    },
}

EDIT = NativeTool(
    name="Edit",
    description=(
        "Replace exact text in an existing file of the workspace. old_string must match the "
        "file exactly (whitespace included) and occur once, unless replace_all is set. To "
        "create a file, use Write."
    ),
    input_schema=schema({"file_path": FILE_PATH, **_EDIT}, "file_path", "old_string", "new_string"),
    handler=_edit,
)

MULTI_EDIT = NativeTool(
    name="MultiEdit",
    description=(
        "Make several Edit replacements in one file, applied in order, each to the result of "
        "the previous one. Either all succeed or the file is left unchanged."
    ),
    input_schema=schema(
        {
            "file_path": FILE_PATH,
            "edits": {
                "type": "array",
                "minItems": 1,
                "items": schema(_EDIT, "old_string", "new_string"),
                "description": "The replacements, in order.",
            },
        },
        "file_path",
        "edits",
    ),
    handler=_multi_edit,
)
