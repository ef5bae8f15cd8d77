"""Bash: one shell command in the workspace's sandbox, in a process group of its own.

`Sandbox.run` owns the process: it caps each stream at the sandbox's output limit, ends the
whole group on timeout, and SIGKILLs the group when the awaiting task is cancelled.
"""

from __future__ import annotations

from typing import Any

from corral.errors import CorralError
from corral.sandbox.process import CommandOutcome
from corral.tools.base import ToolContext, ToolError, ToolResult
from corral.tools.native import NativeTool, schema
from corral.tools.workspace import tool_error


async def _run(ctx: ToolContext, input: dict[str, Any]) -> ToolResult:
    timeout_s = ctx.default_timeout_s
    if "timeout" in input:
        timeout_s = input["timeout"] / 1000
    timeout_s = min(timeout_s, ctx.max_timeout_s)
    try:
        outcome = await ctx.sandbox.run(["bash", "-c", input["command"]], timeout_s=timeout_s)
    except CorralError as exc:  # a command no process could receive (NUL byte, too long)
        error = tool_error(exc)
        raise ToolError(error.code, error.message.replace("args.1", "command")) from exc
    report = _report(outcome, ctx.sandbox.output_limit)
    if outcome.timed_out:
        raise ToolError(
            "tool_timed_out", f"The command was killed after {timeout_s:g} s.\n{report}"
        )
    return ToolResult.text(report, exitCode=outcome.exit_code, truncated=outcome.truncated)


def _report(outcome: CommandOutcome, limit: int) -> str:
    parts = []
    if outcome.stdout:
        parts.append(outcome.stdout.rstrip("\n"))
    if outcome.stderr:
        parts.append("[stderr]\n" + outcome.stderr.rstrip("\n"))
    if not parts:
        parts.append("(no output)")
    if outcome.truncated:
        parts.append(f"[output truncated: each stream keeps its first {limit} bytes]")
    parts.append(f"[exit code {outcome.exit_code}]")
    return "\n".join(parts)


BASH = NativeTool(
    name="Bash",
    description=(
        "Run a bash command in the workspace root and return its stdout, stderr and exit code. "
        "Each call starts a fresh shell (no state carries over: cd, variables). Stdin is empty; "
        "do not start interactive programs. Output is capped; long output is cut. "
        "Prefer Read, Edit, Glob and Grep over cat, sed, find and grep."
    ),
    input_schema=schema(
        {
            "command": {"type": "string", "minLength": 1, "description": "The command to run."},
            "timeout": {
                "type": "integer",
                "minimum": 1,
                "description": "Milliseconds before the command is killed (capped by the server).",
            },
            "description": {
                "type": "string",
                "description": "What the command does, in a few words.",
            },
        },
        "command",
    ),
    handler=_run,
)
