"""The registry: names, specs, and `invoke`'s contract (validation, errors as results,
cancellation passing through)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from corral.providers.base import ToolSpec
from corral.tools import registry
from corral.tools.base import ToolContext, ToolError, ToolResult
from corral.tools.native import NativeTool, schema
from corral.tools.registry import NATIVE_TOOL_NAMES, ToolOutcome, invoke, native_tools, tool_spec

from .conftest import call

NINE = ("Bash", "Read", "Write", "Edit", "MultiEdit", "LS", "Glob", "Grep", "TodoWrite")


def test_all_nine_native_tools_are_named() -> None:
    assert NATIVE_TOOL_NAMES == NINE
    assert [t.name for t in native_tools()] == list(NINE)


def test_a_selection_keeps_the_canonical_order_and_ignores_unknown_names() -> None:
    chosen = native_tools(["Grep", "WebFetch", "Read", "Grep"])
    assert [t.name for t in chosen] == ["Read", "Grep"]
    assert native_tools([]) == []


def test_specs_carry_the_schema_a_model_is_offered() -> None:
    for tool in native_tools():
        spec = tool_spec(tool)
        assert spec == ToolSpec(tool.name, tool.description, tool.input_schema)
        assert spec.parameters["type"] == "object"
        assert spec.parameters["additionalProperties"] is False
        assert set(spec.parameters["required"]) <= set(spec.parameters["properties"])
        assert 40 < len(spec.description) < 600, tool.name


async def test_invalid_input_is_an_error_result_naming_each_problem(ctx: ToolContext) -> None:
    outcome = await call(ctx, "Read", {"file_path": 7, "limit": "all", "extra": True})
    assert not outcome.ok and outcome.error_code == "invalid_tool_input"
    message = outcome.error_message or ""
    assert message.startswith("invalid input for Read: ")
    assert '7 is not of type "string" (at /file_path)' in message
    assert '"all" is not of type "integer" (at /limit)' in message
    assert "'extra' was unexpected" in message
    assert outcome.output == {"type": "error-text", "value": message}
    not_an_object = await call(ctx, "Read", ["a.txt"])  # type: ignore[arg-type]
    assert not_an_object.error_code == "invalid_tool_input"


def _tool(handler: Any) -> NativeTool:
    return NativeTool("Probe", "A tool of the tests.", schema({"n": {"type": "integer"}}), handler)


async def test_results_errors_and_crashes_become_outcomes(ctx: ToolContext) -> None:
    async def works(_: ToolContext, input: dict[str, Any]) -> ToolResult:
        return ToolResult.json({"twice": input["n"] * 2}, seen=True)

    async def refuses(_: ToolContext, input: dict[str, Any]) -> ToolResult:
        raise ToolError("probe_refused", "no, thanks")

    async def crashes(_: ToolContext, input: dict[str, Any]) -> ToolResult:
        raise KeyError("boom")

    done = await invoke(_tool(works), ctx, {"n": 2})
    assert (done.ok, done.output, done.metadata) == (
        True,
        {"type": "json", "value": {"twice": 4}},
        {"seen": True},
    )
    assert (done.error_code, done.error_message) == (None, None)
    refused = await invoke(_tool(refuses), ctx, {"n": 2})
    assert refused == ToolOutcome.failure("probe_refused", "no, thanks", refused.duration_ms)
    crashed = await invoke(_tool(crashes), ctx, {"n": 2})
    assert (crashed.ok, crashed.error_code) == (False, "tool_failed")
    assert crashed.error_message == "Probe failed: KeyError: 'boom'"


async def test_cancellation_propagates(ctx: ToolContext) -> None:
    started = asyncio.Event()

    async def waits(_: ToolContext, input: dict[str, Any]) -> ToolResult:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    task = asyncio.create_task(invoke(_tool(waits), ctx, {"n": 1}))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_validators_are_compiled_once_per_schema() -> None:
    (read,) = native_tools(["Read"])
    assert registry._validator(read.input_schema) is registry._validator(read.input_schema)
