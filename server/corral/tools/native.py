"""What the native tools share: their definition as plain data around one async function, and
the limits of the text they show the model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from corral.tools.base import ToolContext, ToolError, ToolResult

MAX_LINE_CHARS = 2000  # a longer line is cut (minified files would flood the context)
# What Glob and Grep walk: never into .git, and no further than this many files.
SKIPPED_DIRS = frozenset({".git"})
MAX_WALKED_FILES = 100_000
BINARY_PROBE_BYTES = 8192  # a NUL byte in the first ones marks a binary file (as git does)

Handler = Callable[[ToolContext, dict[str, Any]], Awaitable[ToolResult]]


@dataclass(frozen=True, slots=True)
class NativeTool:
    """A `Tool`: `handler` does the work; its input has been validated against the schema.
    The engine tools (core/agent/engine_tools.py) take this shape too, with their own source
    type."""

    name: str
    description: str
    input_schema: dict[str, Any]
    handler: Handler
    source_type: str = "native"

    async def run(self, ctx: ToolContext, input: dict[str, Any]) -> ToolResult:
        return await self.handler(ctx, input)


def cut_line(text: str) -> str:
    if len(text) <= MAX_LINE_CHARS:
        return text
    return f"{text[:MAX_LINE_CHARS]}… [line cut at {MAX_LINE_CHARS} characters]"


def schema(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    """A tool's input schema: an object of exactly these properties."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def utf8(text: str, field: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ToolError("invalid_tool_input", f"{field} is not valid Unicode text") from None


FILE_PATH = {
    "type": "string",
    "minLength": 1,
    "description": "The file: relative to the workspace root, or absolute inside it.",
}
