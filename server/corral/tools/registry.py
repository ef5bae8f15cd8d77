"""The native tools by name, as the model is offered them, and how a call to one is made:
input validated against the tool's schema, every failure turned into an error result.

`invoke` never raises for a failing tool (the agent loop feeds the error back to the model);
only cancellation propagates, so a cancelled run stops its tool at once. An outcome's text is
made `storable`: a tool passes on text from outside (a file name that is not UTF-8, an OS
error's message).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from corral.providers.base import ToolSpec
from corral.surrogates import storable, storable_json
from corral.tools.base import Tool, ToolContext, ToolError
from corral.tools.bash import BASH
from corral.tools.edit import EDIT, MULTI_EDIT
from corral.tools.grep import GREP
from corral.tools.listing import GLOB, LS
from corral.tools.read_write import READ, WRITE
from corral.tools.todo import TODO_WRITE

log = logging.getLogger("corral.tools")

_NATIVE: dict[str, Tool] = {
    tool.name: tool for tool in (BASH, READ, WRITE, EDIT, MULTI_EDIT, LS, GLOB, GREP, TODO_WRITE)
}
NATIVE_TOOL_NAMES: tuple[str, ...] = tuple(_NATIVE)
MAX_REPORTED_ERRORS = 5


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    output: dict[str, Any]  # a ToolResultOutput: text/json, or error-text on failure
    ok: bool
    error_code: str | None
    error_message: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0

    @staticmethod
    def failure(code: str, message: str, duration_ms: float = 0.0) -> ToolOutcome:
        """An error result: `{"type": "error-text", "value": message}`."""
        message = storable(message)
        output = {"type": "error-text", "value": message}
        return ToolOutcome(output, False, code, message, {}, duration_ms)


def native_tools(names: Iterable[str] | None = None) -> list[Tool]:
    """The native tools named (all when None), in their canonical order; unknown names are
    ignored (an agent may allow tools this server does not have)."""
    if names is None:
        return list(_NATIVE.values())
    wanted = set(names)
    return [tool for name, tool in _NATIVE.items() if name in wanted]


def tool_spec(tool: Tool) -> ToolSpec:
    return ToolSpec(tool.name, tool.description, tool.input_schema)


async def invoke(tool: Tool, ctx: ToolContext, raw_input: Any) -> ToolOutcome:
    started = time.perf_counter()
    try:
        _check_input(tool, raw_input)
        result = await tool.run(ctx, raw_input)
    except ToolError as exc:
        return ToolOutcome.failure(exc.code, exc.message, _since(started))
    except Exception as exc:  # not CancelledError (a BaseException): cancellation propagates
        log.exception("tool %s failed", tool.name)
        message = f"{tool.name} failed: {type(exc).__name__}: {exc}"
        return ToolOutcome.failure("tool_failed", message, _since(started))
    output, metadata = storable_json(result.output), storable_json(result.metadata)
    return ToolOutcome(output, True, None, None, metadata, _since(started))


def _check_input(tool: Tool, raw_input: Any) -> None:
    errors = [
        f"{e.message} (at /{'/'.join(map(str, e.instance_path))})" if e.instance_path else e.message
        for e in _validator(tool.input_schema).iter_errors(raw_input)
    ]
    if errors:
        shown = "; ".join(errors[:MAX_REPORTED_ERRORS])
        raise ToolError("invalid_tool_input", f"invalid input for {tool.name}: {shown}")


# Compiled once per schema object (a tool's schema is a constant it keeps).
_validators: dict[int, tuple[dict[str, Any], Any]] = {}


def _validator(schema: dict[str, Any]) -> Any:
    hit = _validators.get(id(schema))
    if hit is None or hit[0] is not schema:
        hit = _validators[id(schema)] = (schema, jsonschema_rs.validator_for(schema))
    return hit[1]


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
