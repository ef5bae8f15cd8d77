"""An action run: the workspace action's command, run in the workspace's sandbox with the
run's input (as JSON on stdin and in `CORRAL_ACTION_INPUT`), recorded as one `tool_call` step
whose output is the command's result. A non-zero exit fails the run (`action_failed`); a
cancelled run ends the command's whole process group and its step `cancelled` (`tool.failed`).
The workspace's tool hooks see the command as a tool named after the action. The model's
run_action tool (core/agent/exposed_tools.py) runs the command the same way; both, and
POST /actions/{name}/run, check the input against the action's schema with `check_input`."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import jsonschema_rs

from corral.core.runs.declared_commands import exit_failure, run_declared
from corral.core.runs.hooks import RunHooks
from corral.core.runs.journal import RunJournal
from corral.core.runs.lifecycle import Ending
from corral.core.workspace.catalog import Catalog
from corral.core.workspace.declarations import ActionSpec
from corral.core.workspace.sandbox_host import SandboxHost
from corral.errors import CorralError
from corral.sandbox.process import Sandbox
from corral.store import RunRecord, Store
from corral.tools.registry import ToolOutcome


async def run_action(
    store: Store,
    run: RunRecord,
    catalog: Catalog,
    sandbox: Sandbox,
    host: SandboxHost,
    hooks: RunHooks | None = None,
) -> Ending:
    name = run.trigger_ref or ""
    action = catalog.action(name)
    if action is None:
        return Ending("failed", "action_not_found", f"action {name!r} is no longer defined")
    action_input = (run.metadata or {}).get("input")
    journal = RunJournal(store, run, run.effective_agent_name)
    tool = journal.tool_step(f"action_{run.id}", name, "action", action_input, answered=False)
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


async def run_command(
    sandbox: Sandbox, action: ActionSpec, action_input: Any, timeout_s: float
) -> dict[str, Any]:
    """The action's command run to its end with its input: the result a run records."""
    payload = json.dumps(action_input)
    env = {"CORRAL_ACTION_INPUT": payload, "CORRAL_ACTION_NAME": action.name}
    outcome = await run_declared(sandbox, action.command, payload, env, timeout_s)
    return {
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
        "exitCode": outcome.exit_code,
        "truncated": outcome.truncated,
        "timedOut": outcome.timed_out,
    }


def command_failure(result: dict[str, Any]) -> str | None:
    """What went wrong with the command, or None when it exited 0 in time."""
    if result["timedOut"]:
        return "the action's command exceeded its time limit"
    return exit_failure("action's command", result["exitCode"], result["stdout"], result["stderr"])


def check_input(action: ActionSpec, value: Any) -> None:
    """An input the action's schema refuses is a 400 `action_input_invalid` naming each problem
    (the model's run_action gets the same check)."""
    if action.input_schema is None:
        return
    try:
        validator = jsonschema_rs.validator_for(action.input_schema)
    except ValueError as exc:  # jsonschema_rs.ValidationError included
        raise CorralError(
            "action_schema_invalid",
            f"action {action.name!r} declares an invalid input schema: {exc}",
        ) from None
    errors = [
        f"{'/'.join(map(str, e.instance_path)) or '(input)'}: {e.message}"
        for e in validator.iter_errors(value)
    ]
    if errors:
        raise CorralError(
            "action_input_invalid",
            f"input does not match the input schema of {action.name!r}",
            {"errors": errors[:20]},
        )
