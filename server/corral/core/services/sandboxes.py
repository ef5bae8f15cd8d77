"""Sandboxes: E2B-style handles over workspaces. The sandbox id is the workspace id and its
root is shown as `/workspace`; creating one creates (or finds) its workspace."""

from __future__ import annotations

import re

from corral import models
from corral.caller import Caller
from corral.core.services.workspaces import WorkspacesService
from corral.core.workspace import access
from corral.errors import CorralError
from corral.store import ConflictError, Store, WorkspaceRecord

_CLIENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}", re.ASCII)


def sandbox(rec: WorkspaceRecord) -> models.Sandbox:
    return models.Sandbox(
        id=rec.id,
        workspace_id=rec.id,
        name=rec.name,
        provider=models.SandboxProvider.embedded,
        execution_model=models.SandboxExecutionModel.local_embedded,
        worker_placement=models.SandboxWorkerPlacement.api_process,
        execution_policy=models.ExecutionPolicy(rec.execution_policy),
        created_at=rec.created_at,
        updated_at=rec.updated_at,
    )


class SandboxesService:
    def __init__(self, store: Store, workspaces: WorkspacesService) -> None:
        self.store = store
        self.workspaces = workspaces

    async def get_sandbox(self, caller: Caller, sandbox_id: str) -> models.Sandbox:
        return sandbox(await self.store.read(lambda tx: access.workspace(tx, caller, sandbox_id)))

    async def create_sandbox(
        self, caller: Caller, *, body: models.CreateSandboxRequest
    ) -> tuple[int, models.Sandbox]:
        """200 with the workspace `workspaceId` names; else 201 with one created from a runtime
        (`name` + `runtime`, under that id if given) or imported from `rootPath`."""
        wanted = body.workspace_id
        if wanted is not None:
            existing = await self._existing(caller, wanted)
            if existing is not None:
                return 200, existing
            if not (body.name and body.runtime) and body.root_path is None:
                raise CorralError.not_found("workspace_not_found", "workspace", wanted)
            if not _CLIENT_ID.fullmatch(wanted):
                raise CorralError.invalid_request(
                    "a new workspaceId may hold only letters, digits, '_', '-' and '.' (1-128)",
                    {"field": "workspaceId"},
                )
        try:
            created = await self._create(caller, body)
        except ConflictError:  # a concurrent request created the same id first
            existing = await self._existing(caller, wanted or "")
            if existing is None:
                raise
            return 200, existing
        return 201, created

    async def _existing(self, caller: Caller, workspace_id: str) -> models.Sandbox | None:
        rec = await self.store.read(lambda tx: tx.get_workspace(workspace_id))
        if rec is None:
            return None
        caller.require_workspace(rec.id)
        return sandbox(rec)

    async def _create(self, caller: Caller, body: models.CreateSandboxRequest) -> models.Sandbox:
        if body.root_path is not None and not body.root_path.startswith("/"):
            raise CorralError.invalid_request(
                "rootPath must be an absolute path", {"field": "rootPath"}
            )
        shared = {
            "external_ref": body.external_ref,
            "owner_id": body.owner_id,
            "service_name": body.service_name,
            "root_path": body.root_path,
        }
        if body.name and body.runtime:
            if body.read_only:
                raise CorralError.invalid_request(
                    "readOnly imports a rootPath; a workspace made from a runtime is writable",
                    {"field": "readOnly"},
                )
            policy = models.ExecutionPolicy(body.execution_policy.value)
            request = models.CreateWorkspaceRequest(
                name=body.name, runtime=body.runtime, execution_policy=policy, **shared
            )
            ws = await self.workspaces.create_workspace(
                caller, body=request, workspace_id=body.workspace_id
            )
        elif body.root_path is not None:
            ws = await self.workspaces.import_workspace(
                caller,
                body=models.ImportWorkspaceRequest(
                    name=body.name, read_only=body.read_only, **shared
                ),
                workspace_id=body.workspace_id,
            )
        else:
            raise CorralError.invalid_request(
                "give workspaceId, rootPath, or both name and runtime"
            )
        rec = await self.store.read(lambda tx: access.workspace(tx, caller, ws.id))
        return sandbox(rec)
