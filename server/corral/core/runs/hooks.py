"""Workspace hooks run at points of a run's life (the format is in core/workspace/catalog.py).

A hook observes; it never changes the run's course or fails it. A `command` hook runs in the
workspace's sandbox like the Bash tool, is recorded as a `hook` step and, when it exits
non-zero or runs out of time, tells the session with a `hook.notice` (docs/contract.md#events).
Handlers this server does not run say so once per run and hook (`hook_handler_unsupported`).

Hooks are awaited, one after another in name order (the hooks of tool calls the model made
together run side by side, as those tools do): a `tool.started` hook ends before its tool
starts (so it can snapshot what the tool will change), tool hooks count towards the run's
`runTimeoutSeconds`, and the end hooks (`run.completed`, `run.failed`, `run.cancelled`) run
before the run's end is written, so a hook never outlives its run. Stopping the run kills a
running hook's whole process group at once (`Sandbox.run`) and closes its step `cancelled`; the
`run.cancelled` hooks of a cancelled run run after that. A server shutting down runs no hooks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from corral.core.runs.declared_commands import exit_failure, run_declared
from corral.core.runs.journal import RunJournal, ToolStep
from corral.core.runs.lifecycle import Ending
from corral.core.workspace.declarations import HookSpec
from corral.core.workspace.sandbox_host import SandboxHost
from corral.sandbox.process import CommandOutcome, Sandbox
from corral.store import Tx
from corral.tools.registry import ToolOutcome

log = logging.getLogger("corral.hooks")

DEFAULT_TIMEOUT_S = 30.0
STEP_OUTPUT_CHARS = 4000  # of stdout and of stderr, kept in the hook's step (the end of each)
UNSUPPORTED = {
    "http": "http hooks are not run: the server would call a URL chosen by a file in the "
    "agent-writable workspace",
    "prompt": "prompt hooks are not supported by this server",
    "agent": "agent hooks are not supported by this server",
}
_END_EVENTS = {
    "completed": "run.completed",
    "failed": "run.failed",
    "timed_out": "run.failed",
    "cancelled": "run.cancelled",
}


class RunHooks:
    """The hooks of one run: fires those declared for an event, records what they did."""

    def __init__(
        self, journal: RunJournal, specs: list[HookSpec], sandbox: Sandbox, host: SandboxHost
    ) -> None:
        self.journal = journal
        # A notice belongs to a session's stream: a run without one has no hooks.
        self.specs = specs if journal.run.session_id is not None else []
        self.sandbox = sandbox
        self.host = host
        self._told: set[str] = set()  # unsupported hooks whose notice this run has given

    def wants(self, event: str) -> bool:
        return any(event in spec.events for spec in self.specs)

    # -- the points of a run ----------------------------------------------------------

    async def around(self, perform: Callable[[], Awaitable[Ending]]) -> Ending:
        """Perform the run between its `run.started` hooks and the hooks of its end."""
        try:
            await self.fire("run.started", status="running")
            ending = await perform()
        except asyncio.CancelledError:
            if self.wants("run.cancelled") and await self._cancel_requested():
                await self.fire("run.cancelled", status="cancelled")
            raise
        event = _END_EVENTS[ending.status]
        if not self.wants(event):
            return ending
        if ending.prelude is not None:
            # The run's last changes (its final message) are written first, so an end hook
            # finds the transcript complete; shielded: a stop now must not drop them.
            await asyncio.shield(self.journal.store.write(ending.prelude))
            ending = dataclasses.replace(ending, prelude=None)
        error = (
            {}
            if ending.error_code is None
            else {"errorCode": ending.error_code, "errorMessage": ending.error_message}
        )
        await self.fire(event, status=ending.status, **error)
        return ending

    async def tool_started(self, tool: ToolStep) -> None:
        await self.fire("tool.started", tool.tool_name, **_tool_about(tool))

    async def tool_finished(self, tool: ToolStep, outcome: ToolOutcome) -> None:
        about = {
            **_tool_about(tool),
            "output": outcome.output,
            "durationMs": round(outcome.duration_ms, 3),
        }
        if outcome.ok:
            await self.fire("tool.completed", tool.tool_name, **about)
        else:
            await self.fire(
                "tool.failed",
                tool.tool_name,
                errorCode=outcome.error_code,
                errorMessage=outcome.error_message,
                **about,
            )

    # -- running hooks ----------------------------------------------------------------

    async def fire(self, event: str, tool_name: str | None = None, **data: Any) -> None:
        for spec in self.specs:
            if not spec.fires_on(event, tool_name):
                continue
            try:
                if spec.handler_type == "command":
                    await self._command(spec, event, tool_name, data)
                elif spec.name not in self._told:
                    self._told.add(spec.name)
                    await self._unsupported(spec, event)
            except Exception:  # a hook must never end its run: the store failing included
                log.exception("hook %s on %s of run %s", spec.name, event, self.journal.run.id)

    async def _command(
        self, spec: HookSpec, event: str, tool_name: str | None, data: dict[str, Any]
    ) -> None:
        assert spec.command is not None
        j = self.journal
        about = (
            {} if tool_name is None else {"toolCallId": data["toolCallId"], "toolName": tool_name}
        )
        step = j.step(
            "hook",
            spec.name,
            {"eventName": event, "handlerType": "command", "command": spec.command, **about},
        )
        run = j.run
        payload = json.dumps(
            {
                "eventName": event,
                "hookName": spec.name,
                "runId": run.id,
                "sessionId": j.session_id,
                "workspaceId": run.workspace_id,
                "agentName": j.agent_name,
                **data,
            },
            default=str,
        )
        timeout_s = self.host.timeout_s(int((spec.timeout_seconds or DEFAULT_TIMEOUT_S) * 1000))
        env = {
            "CORRAL_HOOK_EVENT": event,
            "CORRAL_HOOK_NAME": spec.name,
            "CORRAL_RUN_ID": run.id,
            "CORRAL_SESSION_ID": j.session_id,
        }
        try:
            await j.store.write(step.store)  # inside: a stop landing while it commits closes it
            outcome = await run_declared(self.sandbox, spec.command, payload, env, timeout_s)
        except asyncio.CancelledError:  # the hook's process group is killed by now
            await asyncio.shield(j.store.write(step.stop))
            raise
        failure = _failure(outcome, timeout_s)
        stdout, stderr = _tail(outcome.stdout), _tail(outcome.stderr)
        output = {
            "exitCode": outcome.exit_code,
            "timedOut": outcome.timed_out,
            "stdout": stdout,
            "stderr": stderr,
            "truncated": outcome.truncated or (stdout, stderr) != (outcome.stdout, outcome.stderr),
        }

        def record(tx: Tx) -> None:
            step.close(tx, "completed" if failure is None else "failed", output)
            if failure is not None:
                self._notice(tx, spec, event, *failure)

        await j.store.write(record)

    async def _unsupported(self, spec: HookSpec, event: str) -> None:
        message = UNSUPPORTED.get(spec.handler_type, "this handler type is not supported")
        await self.journal.store.write(
            lambda tx: self._notice(tx, spec, event, "hook_handler_unsupported", message)
        )

    def _notice(self, tx: Tx, spec: HookSpec, event: str, code: str, message: str) -> None:
        self.journal.emit(
            tx,
            "hook.notice",
            sessionId=self.journal.session_id,
            hookName=spec.name,
            eventName=event,
            handlerType=spec.handler_type,
            errorCode=code,
            errorMessage=message,
        )

    async def _cancel_requested(self) -> bool:
        """Whether the run was asked to stop (cancel, interrupt, guide), not the server."""
        run_id = self.journal.run.id
        run = await self.journal.store.read(lambda tx: tx.get_run(run_id))
        return run is not None and run.cancel_requested_at is not None


def _tool_about(tool: ToolStep) -> dict[str, Any]:
    return {
        "toolCallId": tool.call_id,
        "toolName": tool.tool_name,
        "sourceType": tool.source_type,
        "input": tool.input,
    }


def _failure(outcome: CommandOutcome, timeout_s: float) -> tuple[str, str] | None:
    if outcome.timed_out:
        return "hook_timed_out", f"the hook was killed after {timeout_s:g} s"
    message = exit_failure("hook", outcome.exit_code, outcome.stdout, outcome.stderr)
    return None if message is None else ("hook_failed", message)


def _tail(text: str) -> str:
    return text[-STEP_OUTPUT_CHARS:]
