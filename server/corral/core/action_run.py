"""An action run: the workspace action's command, run in the workspace's sandbox with the
run's input (as JSON on stdin and in `CORRAL_ACTION_INPUT`), recorded as one `tool_call` step
whose output is the command's result. A non-zero exit fails the run (`action_failed`); a
cancelled run ends the command's whole process group and its step `cancelled` (`tool.failed`).
The workspace's tool hooks see the command as a tool named after the action. The model's
run_action tool (core/exposed_tools.py) runs the command the same way."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from corral.core.catalog import Catalog
from corral.core.declarations import ActionSpec
from corral.core.declared_commands import exit_failure, run_declared
from corral.core.hooks import RunHooks
from corral.core.run_journal import RunJournal
from corral.core.run_lifecycle import Ending
from corral.core.sandbox_host import SandboxHost
from corral.sandbox.process import Sandbox
from corral.store import RunRecord, Store
from corral.tools.registry import ToolOutcome


async def run_action(store: Store, run: RunRecord, catalog: Catalog, sandbox: Sandbox,
                     host: SandboxHost, hooks: RunHooks | None = None) -> Ending:  # fmt: skip
    name = run.trigger_ref or ""
    action = catalog.action(name)
    if action is None:
        return Ending("failed", "action_not_found", f"action {name!r} is no longer defined")
    action_input = (run.metadata or {}).get("input")
    journal = RunJournal(store, run, run.effective_agent_name)
    tool = journal.tool_step(f"action_{run.id}", name, "action", action_input,
                             answered=False)  # fmt: skip
    timeout_ms = None if action.timeout_seconds is None else int(action.timeout_seconds * 1000)
    started = time.perf_counter()
    try:
        await store.write(tool.start)
        if hooks is not None:
            await hooks.tool_started(tool)
        result = await run_command(sandbox, action, action_input, host.timeout_s(timeout_ms))
    except asyncio.CancelledError:  # the command's process group is killed by now
        await asyncio.shield(journal.abandon([tool]))
        raise
    elapsed_ms = (time.perf_counter() - started) * 1000
    failure = command_failure(result)
    if failure is None:
        recorded = ToolOutcome(result, True, None, None, duration_ms=elapsed_ms)
    else:
        code = "tool_timed_out" if result["timedOut"] else "action_failed"
        recorded = ToolOutcome(result, False, code, failure, duration_ms=elapsed_ms)
    await store.write(lambda tx: tool.finish(tx, recorded, step_output=result))
    if hooks is not None:
        await hooks.tool_finished(tool, recorded)
    if failure is None:
        return Ending("completed", metadata={"output": result})
    if result["timedOut"]:
        return Ending("timed_out", "action_timed_out", failure, {"output": result})
    return Ending("failed", "action_failed", failure, {"output": result})


async def run_command(sandbox: Sandbox, action: ActionSpec, action_input: Any,
                      timeout_s: float) -> dict[str, Any]:  # fmt: skip
    """The action's command run to its end with its input: the result a run records."""
    payload = json.dumps(action_input)
    env = {"CORRAL_ACTION_INPUT": payload, "CORRAL_ACTION_NAME": action.name}
    outcome = await run_declared(sandbox, action.command, payload, env, timeout_s)
    return {"stdout": outcome.stdout, "stderr": outcome.stderr, "exitCode": outcome.exit_code,
            "truncated": outcome.truncated, "timedOut": outcome.timed_out}  # fmt: skip


def command_failure(result: dict[str, Any]) -> str | None:
    """What went wrong with the command, or None when it exited 0 in time."""
    if result["timedOut"]:
        return "the action's command exceeded its time limit"
    return exit_failure("action's command", result["exitCode"], result["stdout"], result["stderr"])
