"""Commands run in a workspace's sandbox (the sandbox id is the workspace id): foreground,
as a process, or in the background. The sandbox of a read-only workspace refuses them."""

from __future__ import annotations

from corral import models
from corral.caller import Caller
from corral.core.workspace import access
from corral.core.workspace.sandbox_host import SandboxHost
from corral.errors import CorralError
from corral.sandbox.process import CommandOutcome, Sandbox
from corral.store import Store, Tx, WorkspaceRecord


class CommandsService:
    def __init__(self, store: Store, host: SandboxHost) -> None:
        self.store = store
        self.host = host

    async def run_foreground_command(
        self, caller: Caller, sandbox_id: str, *, body: models.ForegroundCommandRequest
    ) -> models.CommandResult:
        sandbox = await self._sandbox(caller, sandbox_id)
        outcome = await sandbox.run(
            ["/bin/sh", "-c", body.command],
            cwd=body.cwd,
            env=body.env,
            stdin=body.stdin_text,
            timeout_s=self.host.timeout_s(body.timeout_ms),
        )
        return _result(outcome)

    async def run_process_command(
        self, caller: Caller, sandbox_id: str, *, body: models.ProcessCommandRequest
    ) -> models.CommandResult:
        sandbox = await self._sandbox(caller, sandbox_id)
        outcome = await sandbox.run(
            [body.executable, *body.args],
            cwd=body.cwd,
            env=body.env,
            stdin=body.stdin_text,
            timeout_s=self.host.timeout_s(body.timeout_ms),
        )
        return _result(outcome)

    async def start_background_command(
        self, caller: Caller, sandbox_id: str, *, body: models.BackgroundCommandRequest
    ) -> models.BackgroundCommandResult:
        def lookup(tx: Tx) -> WorkspaceRecord:
            ws = access.workspace(tx, caller, sandbox_id)
            if body.session_id is not None:
                session = access.session(tx, caller, body.session_id)
                if session.workspace_id != ws.id:
                    raise CorralError(
                        "session_workspace_mismatch",
                        f"session {session.id} belongs to another workspace",
                        {"sessionId": session.id, "workspaceId": ws.id},
                    )
            return ws

        ws = await self.store.read(lookup)
        task = await self.host.tasks.start(
            self.host.sandbox(ws),
            body.command,
            workspace_id=ws.id,
            session_id=body.session_id,
            description=body.description,
            cwd=body.cwd,
            env=body.env,
        )
        return models.BackgroundCommandResult(
            output_path=task.output_path, task_id=task.id, pid=task.pid
        )

    async def _sandbox(self, caller: Caller, sandbox_id: str) -> Sandbox:
        ws = await self.store.read(lambda tx: access.workspace(tx, caller, sandbox_id))
        return self.host.sandbox(ws)


def _result(outcome: CommandOutcome) -> models.CommandResult:
    return models.CommandResult(
        stdout=outcome.stdout,
        stderr=outcome.stderr,
        exit_code=outcome.exit_code,
        timed_out=outcome.timed_out,
        truncated=outcome.truncated,
    )
