"""Bash through the real sandbox: output, exit codes, the output cap, timeouts and
cancellation, each of which must leave no process of the command's group running."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from corral.testing.waiting import wait_for_async
from corral.tools.base import ToolContext

from .conftest import OUTPUT_LIMIT, call, error_of, live_group_members, ok_text


async def test_runs_in_the_workspace_root_and_reports_both_streams(ctx: ToolContext) -> None:
    outcome = await call(ctx, "Bash", {"command": "pwd; echo oops >&2; exit 3"})
    assert outcome.ok
    assert outcome.output["value"] == f"{ctx.sandbox.root}\n[stderr]\noops\n[exit code 3]"
    assert outcome.metadata == {"exitCode": 3, "truncated": False}
    assert outcome.duration_ms > 0


async def test_a_silent_command_says_so(ctx: ToolContext) -> None:
    assert await ok_text(ctx, "Bash", {"command": "true"}) == "(no output)\n[exit code 0]"


async def test_commands_change_the_workspace(ctx: ToolContext, root: Path) -> None:
    await ok_text(ctx, "Bash", {"command": "mkdir -p a/b && echo hi > a/b/c.txt"})
    assert (root / "a/b/c.txt").read_text() == "hi\n"


async def test_output_beyond_the_cap_is_cut_and_reported(ctx: ToolContext) -> None:
    outcome = await call(
        ctx, "Bash", {"command": f"head -c {3 * OUTPUT_LIMIT} /dev/zero | tr '\\0' x"}
    )
    assert outcome.ok and outcome.metadata["truncated"] is True
    text = outcome.output["value"]
    assert text.startswith("x" * OUTPUT_LIMIT + "\n")
    assert "x" * (OUTPUT_LIMIT + 1) not in text
    assert f"[output truncated: each stream keeps its first {OUTPUT_LIMIT} bytes]" in text


async def test_a_timeout_is_a_tool_timed_out_error_and_ends_the_group(ctx: ToolContext) -> None:
    code, message = await error_of(
        ctx, "Bash", {"command": "echo $$; sleep 30 & sleep 30", "timeout": 300}
    )
    assert code == "tool_timed_out"
    assert message.startswith("The command was killed after 0.3 s.\n")
    assert "[exit code 124]" in message
    pgid = int(message.splitlines()[1])  # the partial output is kept: the shell's pid
    await wait_for_async(lambda: not live_group_members(pgid))


async def test_the_timeout_is_capped_by_the_context(ctx: ToolContext) -> None:
    capped = replace(ctx, max_timeout_s=0.3)
    code, _ = await error_of(capped, "Bash", {"command": "sleep 30", "timeout": 600_000})
    assert code == "tool_timed_out"


async def test_without_a_timeout_the_default_applies(ctx: ToolContext) -> None:
    short = replace(ctx, default_timeout_s=0.3)
    code, message = await error_of(short, "Bash", {"command": "sleep 30"})
    assert code == "tool_timed_out" and "0.3 s" in message


async def test_cancelling_the_call_kills_the_whole_group(ctx: ToolContext, root: Path) -> None:
    pid_file = root / "pid"
    task = asyncio.create_task(call(ctx, "Bash", {"command": "echo $$ > pid; sleep 30 & sleep 30"}))
    await wait_for_async(lambda: pid_file.exists() and pid_file.read_text().strip())
    pgid = int(pid_file.read_text())
    await wait_for_async(lambda: len(live_group_members(pgid)) >= 3)  # the shell and both sleeps
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_for_async(lambda: not live_group_members(pgid))


async def test_a_command_no_process_could_receive_is_invalid_input(ctx: ToolContext) -> None:
    code, message = await error_of(ctx, "Bash", {"command": "echo a\0b"})
    assert (code, message) == ("invalid_tool_input", "command contains a NUL character")


async def test_input_is_validated(ctx: ToolContext) -> None:
    for bad in ({}, {"command": ""}, {"command": "true", "timeout": 0}, {"cmd": "true"}):
        code, _ = await error_of(ctx, "Bash", bad)
        assert code == "invalid_tool_input", bad
