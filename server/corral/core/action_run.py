"""An action run: the workspace action's command, run in the workspace's sandbox with the
run's input (as JSON on stdin and in `CORRAL_ACTION_INPUT`), recorded as one `tool_call` step
whose output is the command's result. A non-zero exit fails the run (`action_failed`); a
cancelled run ends the command's whole process group and its step `cancelled` (`tool.failed`).
The workspace's tool hooks see the command as a tool named after the action."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from corral.core.catalog import Catalog
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
    payload = json.dumps((run.metadata or {}).get("input"))
    journal = RunJournal(store, run, run.effective_agent_name)
    tool = journal.tool_step(f"action_{run.id}", name, "action", payload, answered=False)
    timeout_ms = None if action.timeout_seconds is None else int(action.timeout_seconds * 1000)
    started = time.perf_counter()
    try:
        await store.write(tool.start)
        if hooks is not None:
            await hooks.tool_started(tool)
        outcome = await sandbox.run(
            ["/bin/sh", "-c", action.command], stdin=payload,
            timeout_s=host.timeout_s(timeout_ms),
            env={"CORRAL_ACTION_INPUT": payload, "CORRAL_ACTION_NAME": name},
        )  # fmt: skip
    except asyncio.CancelledError:  # the command's process group is killed by now
        await asyncio.shield(journal.abandon([tool]))
        raise
    result = {"stdout": outcome.stdout, "stderr": outcome.stderr, "exitCode": outcome.exit_code,
              "truncated": outcome.truncated, "timedOut": outcome.timed_out}  # fmt: skip
    elapsed_ms = (time.perf_counter() - started) * 1000
    if outcome.exit_code == 0 and not outcome.timed_out:
        recorded = ToolOutcome(result, True, None, None, duration_ms=elapsed_ms)
    else:
        code = "tool_timed_out" if outcome.timed_out else "action_failed"
        recorded = ToolOutcome(result, False, code, _failure(result), duration_ms=elapsed_ms)
    await store.write(lambda tx: tool.finish(tx, recorded, step_output=result))
    if hooks is not None:
        await hooks.tool_finished(tool, recorded)
    if outcome.timed_out:
        return Ending("timed_out", "action_timed_out", _failure(result), {"output": result})
    if not recorded.ok:
        return Ending("failed", "action_failed", _failure(result), {"output": result})
    return Ending("completed", metadata={"output": result})


def _failure(result: dict[str, Any]) -> str:
    if result["timedOut"]:
        return "the action's command exceeded its time limit"
    tail = (result["stderr"] or result["stdout"]).strip()[-500:]
    return f"the action's command exited with {result['exitCode']}" + (f": {tail}" if tail else "")
