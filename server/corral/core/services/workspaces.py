"""Workspaces: created from a runtime template or imported, listed, read, deleted, and their
catalog read from the files they hold.

An import may be read-only (`readOnly`): Corral then never writes in the directory. The flag is
set once, at import, and read by every path that could write: the files service refuses
changes, the workspace's sandbox runs no command (core/workspace/sandbox_host.py), the agents'
file tools ask that sandbox first, and deleting the workspace leaves the directory.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from corral import clock, models
from corral.caller import Caller
from corral.core.services import mappers
from corral.core.services.pagination import read_offset_page
from corral.core.workspace import access
from corral.core.workspace.catalog_cache import workspace_catalog
from corral.core.workspace.directories import (
    default_workspace_root,
    materialize_workspace,
    remove_workspace_dir,
    validate_import_root,
)
from corral.core.workspace.runtime_library import RuntimeLibrary
from corral.errors import CorralError
from corral.ids import new_id
from corral.store import Store, Tx, WorkspaceRecord


@dataclass(frozen=True, slots=True)
class WorkspacePlaces:
    managed: Path  # where Corral creates workspaces and may delete them
    allowed: tuple[Path, ...]  # where clients may also point rootPath

    def check(self, path: Path) -> Path:
        """The resolved path, if it lies strictly inside one of the places."""
        resolved = path.resolve()
        for place in (self.managed, *self.allowed):
            if resolved != place.resolve() and resolved.is_relative_to(place.resolve()):
                return resolved
        raise CorralError(
            "workspace_path_not_allowed",
            "rootPath lies outside the directories this server places workspaces in",
            {"rootPath": str(path)},
        )


class WorkspacesService:
    def __init__(self, store: Store, library: RuntimeLibrary, places: WorkspacePlaces) -> None:
        self.store = store
        self.library = library
        self.places = places

    async def list_workspaces(
        self, caller: Caller, *, page_size: int, cursor: str | None
    ) -> models.WorkspacePage:
        def fetch(tx: Tx, offset: int, limit: int) -> list[WorkspaceRecord]:
            return tx.list_workspaces(offset, limit, caller.workspace_access)

        rows, next_cursor = await read_offset_page(self.store, cursor, page_size, fetch)
        return models.WorkspacePage(
            items=[mappers.workspace(r) for r in rows], next_cursor=next_cursor
        )

    async def create_workspace(
        self,
        caller: Caller,
        *,
        body: models.CreateWorkspaceRequest,
        workspace_id: str | None = None,
    ) -> models.Workspace:
        """`workspace_id` lets a sandbox request name the workspace it creates."""
        caller.require_unrestricted("create workspaces")
        template = await asyncio.to_thread(self.library.path, body.runtime)
        if body.root_path is not None:
            root = self.places.check(_absolute(body.root_path))
            await self.store.read(lambda tx: _refuse_overlap(tx, root))  # before touching disk
        else:
            root = default_workspace_root(self.places.managed, body.name)
        skills = [(s.name, s.content) for s in body.skills or []]
        tool_servers = {k: v.model_dump(mode="json") for k, v in (body.tool_servers or {}).items()}
        await asyncio.to_thread(
            materialize_workspace,
            template,
            root,
            agents_md=body.agents_md,
            skills=skills,
            tool_servers=tool_servers or None,
        )
        now = clock.now()
        rec = WorkspaceRecord(
            id=workspace_id or new_id("ws"),
            name=body.name,
            root_path=str(root),
            created_at=now,
            updated_at=now,
            runtime=body.runtime,
            external_ref=body.external_ref,
            owner_id=body.owner_id,
            service_name=body.service_name.lower() if body.service_name else None,
            execution_policy=(body.execution_policy or models.ExecutionPolicy.local).value,
        )
        try:
            await self.store.write(lambda tx: _insert(tx, rec))
        except BaseException:
            await asyncio.to_thread(remove_workspace_dir, root, self.places.managed)
            raise
        return mappers.workspace(rec)

    async def import_workspace(
        self,
        caller: Caller,
        *,
        body: models.ImportWorkspaceRequest,
        workspace_id: str | None = None,
    ) -> models.Workspace:
        caller.require_unrestricted("import workspaces")
        self.places.check(_absolute(body.root_path))  # before touching the disk
        root = self.places.check(await asyncio.to_thread(validate_import_root, body.root_path))
        now = clock.now()
        rec = WorkspaceRecord(
            id=workspace_id or new_id("ws"),
            name=body.name or root.name or "workspace",
            root_path=str(root),
            created_at=now,
            updated_at=now,
            external_ref=body.external_ref,
            owner_id=body.owner_id,
            service_name=body.service_name.lower() if body.service_name else None,
            read_only=body.read_only,
        )
        await self.store.write(lambda tx: _insert(tx, rec))
        return mappers.workspace(rec)

    async def get_workspace(self, caller: Caller, workspace_id: str) -> models.Workspace:
        rec = await self.store.read(lambda tx: access.workspace(tx, caller, workspace_id))
        return mappers.workspace(rec)

    async def delete_workspace(self, caller: Caller, workspace_id: str) -> None:
        def delete(tx: Tx) -> WorkspaceRecord:
            rec = access.workspace(tx, caller, workspace_id)
            tx.delete_workspace(rec.id)
            return rec

        rec = await self.store.write(delete)
        if not rec.read_only:
            await asyncio.to_thread(remove_workspace_dir, Path(rec.root_path), self.places.managed)

    async def get_workspace_catalog(
        self, caller: Caller, workspace_id: str
    ) -> models.WorkspaceCatalog:
        rec = await self.store.read(lambda tx: access.workspace(tx, caller, workspace_id))
        catalog = await workspace_catalog(Path(rec.root_path))
        return mappers.catalog(rec.id, catalog)


def _refuse_overlap(tx: Tx, root: Path) -> None:
    """Workspaces never nest: deleting one must not take another's files with it."""
    clash = tx.workspaces_overlapping(str(root))
    if clash:
        raise CorralError(
            "workspace_path_not_allowed",
            f"rootPath overlaps the directory of workspace {clash[0].id}",
            {"rootPath": str(root), "workspaceId": clash[0].id},
        )


def _insert(tx: Tx, rec: WorkspaceRecord) -> None:
    _refuse_overlap(tx, Path(rec.root_path))
    tx.insert_workspace(rec)


def _absolute(raw: str) -> Path:
    path = Path(raw)
    if not path.is_absolute() or "\x00" in raw:
        raise CorralError(
            "invalid_request", "rootPath must be an absolute path", {"field": "rootPath"}
        )
    return path
