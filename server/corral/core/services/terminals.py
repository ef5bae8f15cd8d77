"""The terminals of a session: the background commands started with its id, read by their
output's tail, written to on stdin, stopped."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from corral import models
from corral.caller import Caller
from corral.core.workspace import access
from corral.core.workspace.sandbox_host import SandboxHost
from corral.errors import CorralError
from corral.sandbox.tasks import TaskRecord, read_tail
from corral.store import Store, Tx, WorkspaceRecord


class TerminalsService:
    def __init__(self, store: Store, host: SandboxHost) -> None:
        self.store = store
        self.host = host

    async def get_terminal_snapshot(
        self, caller: Caller, session_id: str, terminal_id: str, *, max_bytes: int | None
    ) -> models.TerminalSnapshot:
        task, ws = await self._terminal(caller, session_id, terminal_id)
        limit = min(
            max_bytes or self.host.settings.sandbox_output_bytes,
            self.host.settings.sandbox_output_bytes,
        )
        data, cut = await asyncio.to_thread(read_tail, Path(ws.root_path), task.output_path, limit)
        output, encoding = _text(data, cut)
        return models.TerminalSnapshot(
            session_id=session_id,
            terminal_id=task.id,
            status=models.TerminalStatus(task.status),
            output_path=task.output_path,
            output=output,
            encoding=encoding,
            truncated=cut or task.output_truncated,
            input_writable=self.host.tasks.input_writable(task.id),
            terminal_kind=models.TerminalSnapshotTerminalKind.pipe,
            pid=task.pid,
            description=task.description,
            command=task.command,
            exit_code=task.exit_code,
            signal=task.signal,
            created_at=task.created_at,
            updated_at=task.updated_at,
            ended_at=task.ended_at,
        )

    async def send_terminal_input(
        self,
        caller: Caller,
        session_id: str,
        terminal_id: str,
        *,
        body: models.TerminalInputRequest,
    ) -> models.TerminalInputAccepted:
        task, _ = await self._terminal(caller, session_id, terminal_id)
        text = body.input + ("\n" if body.append_newline else "")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            raise CorralError.invalid_request(
                "input is not valid Unicode text (lone surrogate)", {"field": "input"}
            ) from None
        task = self.host.tasks.write_input(task.id, data)
        return models.TerminalInputAccepted(
            session_id=session_id,
            terminal_id=task.id,
            status=models.TerminalStatus(task.status),
            append_newline=body.append_newline,
            input_writable=self.host.tasks.input_writable(task.id),
            updated_at=task.updated_at,
        )

    async def stop_terminal(
        self, caller: Caller, session_id: str, terminal_id: str
    ) -> models.TerminalStopAccepted:
        task, _ = await self._terminal(caller, session_id, terminal_id)
        requested = await self.host.tasks.stop(task.id)
        task = await self.host.tasks.get(task.id) or task
        return models.TerminalStopAccepted(
            session_id=session_id,
            terminal_id=task.id,
            status=models.TerminalStatus(task.status),
            stop_requested=requested,
            updated_at=task.updated_at,
        )

    async def _terminal(
        self, caller: Caller, session_id: str, terminal_id: str
    ) -> tuple[TaskRecord, WorkspaceRecord]:
        def lookup(tx: Tx) -> WorkspaceRecord:
            session = access.session(tx, caller, session_id)
            return access.workspace(tx, caller, session.workspace_id)

        ws = await self.store.read(lookup)
        task = await self.host.tasks.get(terminal_id)
        if task is None or task.session_id != session_id:
            raise CorralError.not_found("terminal_not_found", "terminal", terminal_id)
        return task, ws


def _text(data: bytes, cut: bool) -> tuple[str, models.FileEncoding]:
    """UTF-8 text when the output is text, else base64. A tail may start inside a character:
    its leading continuation bytes are dropped first."""
    if cut:
        skip = 0
        while skip < min(3, len(data)) and data[skip] & 0xC0 == 0x80:
            skip += 1
        data = data[skip:]
    try:
        return data.decode("utf-8"), models.FileEncoding.utf8
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), models.FileEncoding.base64
