"""The interface of the tools an agent can call inside its workspace.

A tool gets its input already validated against `input_schema` and returns a `ToolResult`
whose `output` is a ToolResultOutput of the spec (`{"type": "text", "value": "..."}`,
`json`, `error-text`, `error-json`). A tool that fails raises `ToolError`; the agent loop turns
that into an error result for the model, so a failing tool never fails the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from corral.sandbox.process import Sandbox


class ToolError(Exception):
    """A tool call that could not do its work; `code` is snake_case (`tool_timed_out`,
    `file_not_found`, `invalid_tool_input`, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ToolResult:
    output: dict[str, Any]  # a ToolResultOutput
    metadata: dict[str, Any] = field(default_factory=dict)  # e.g. {"exitCode": 0}

    @staticmethod
    def text(value: str, **metadata: Any) -> ToolResult:
        return ToolResult({"type": "text", "value": value}, metadata)

    @staticmethod
    def json(value: Any, **metadata: Any) -> ToolResult:
        return ToolResult({"type": "json", "value": value}, metadata)


@dataclass(slots=True)
class ToolContext:
    """What a tool call may touch: one workspace root and its command sandbox."""

    root: Path
    sandbox: Sandbox
    session_id: str
    run_id: str
    default_timeout_s: float
    max_timeout_s: float
    # Per-session scratch state that outlives one call (TodoWrite keeps its list here).
    state: dict[str, Any] = field(default_factory=dict)
    tool_call_id: str = ""  # the call being made (each call gets its own copy of the context)


class Named(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str | None: ...


def entry_line(item: Named) -> str:
    """`- name: description`: one thing a tool can act on, listed in the tool's description."""
    return f"- {item.name}" + (f": {item.description}" if item.description else "")


class Tool(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def input_schema(self) -> dict[str, Any]: ...

    @property
    def source_type(self) -> str:
        """`native`, or where an engine tool comes from: `agent`, `action`, `skill` (the
        `sourceType` of its tool events)."""
        ...

    async def run(self, ctx: ToolContext, input: dict[str, Any]) -> ToolResult: ...
