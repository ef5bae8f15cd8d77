"""Sessions of a workspace: created with a resolved agent, listed, patched, deleted, and read
together with their runs, child sessions and pending queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from corral import clock, models
from corral.caller import Caller
from corral.core.agent import compaction
from corral.core.llm.run_models import ModelResolver
from corral.core.runs.executor import RunExecutor
from corral.core.runs.queue import queue_items
from corral.core.services import mappers
from corral.core.services.event_stream import SessionEventStreams
from corral.core.services.pagination import read_offset_page
from corral.core.workspace import access
from corral.core.workspace.catalog import Catalog, resolve_agent
from corral.core.workspace.catalog_cache import workspace_catalog
from corral.errors import CorralError
from corral.ids import new_id
from corral.results import SseFrame
from corral.store import RunRecord, SessionRecord, Store, Tx


class SessionsService:
    def __init__(
        self,
        store: Store,
        resolver: ModelResolver,
        event_streams: SessionEventStreams,
        executor: RunExecutor,
    ) -> None:
        self.store = store
        self.resolver = resolver
        self.event_streams = event_streams
        self.executor = executor  # keeps compaction runs alive

    async def _catalog(self, root: str) -> Catalog:
        return await workspace_catalog(Path(root))

    async def list_workspace_sessions(
        self, caller: Caller, workspace_id: str, *, page_size: int, cursor: str | None
    ) -> models.SessionPage:
        def fetch(tx: Tx, offset: int, limit: int) -> list[SessionRecord]:
            access.workspace(tx, caller, workspace_id)
            return tx.list_sessions(workspace_id, offset, limit, top_level_only=True)

        rows, next_cursor = await read_offset_page(self.store, cursor, page_size, fetch)
        return models.SessionPage(items=[mappers.session(r) for r in rows], next_cursor=next_cursor)

    async def create_session(
        self, caller: Caller, workspace_id: str, *, body: models.CreateSessionRequest | None
    ) -> models.Session:
        body = body or models.CreateSessionRequest()
        ws = await self.store.read(lambda tx: access.workspace(tx, caller, workspace_id))
        catalog = await self._catalog(ws.root_path)
        # An empty agent name or title is absent: OAH's contract allows both empty.
        agent = resolve_agent(catalog, body.agent_name or None)
        if body.model_ref is not None:
            _check_model_ref(catalog, body.model_ref)
        now = clock.now()
        rec = SessionRecord(
            id=new_id("ses"),
            workspace_id=ws.id,
            subject_ref=caller.subject_ref,
            active_agent_name=agent.name,
            agent_name=agent.name,
            model_ref=body.model_ref,
            title=body.title or None,
            created_at=now,
            updated_at=now,
        )

        def insert(tx: Tx) -> None:
            access.workspace(tx, caller, workspace_id)  # still there
            tx.insert_session(rec)
            tx.touch_workspace(workspace_id, now)

        await self.store.write(insert)
        return mappers.session(rec)

    async def get_session(self, caller: Caller, session_id: str) -> models.Session:
        rec = await self.store.read(lambda tx: access.session(tx, caller, session_id))
        return mappers.session(rec)

    async def update_session(
        self, caller: Caller, session_id: str, *, body: models.UpdateSessionRequest
    ) -> models.Session:
        fields = body.model_fields_set
        current = await self.store.read(lambda tx: access.session(tx, caller, session_id))
        agent_name = current.active_agent_name
        if "active_agent_name" in fields or "model_ref" in fields:
            ws = await self.store.read(
                lambda tx: access.workspace(tx, caller, current.workspace_id)
            )
            catalog = await self._catalog(ws.root_path)
            if body.active_agent_name is not None:
                agent_name = resolve_agent(catalog, body.active_agent_name).name
            if body.model_ref is not None:
                _check_model_ref(catalog, body.model_ref)

        def patch(tx: Tx) -> SessionRecord:
            rec = access.session(tx, caller, session_id)
            changes: dict[str, object] = {
                "active_agent_name": agent_name,
                "updated_at": clock.now(),
            }
            if body.title is not None:
                changes["title"] = body.title
            if "model_ref" in fields and body.model_ref != rec.model_ref:
                if tx.list_session_runs(rec.id, 0, 1):
                    raise CorralError(
                        "session_model_locked",
                        "the model of a session cannot change after its first run",
                        {"sessionId": rec.id},
                    )
                changes["model_ref"] = body.model_ref
            updated = replace(rec, **changes)  # type: ignore[arg-type]
            tx.update_session(updated)
            return updated

        return mappers.session(await self.store.write(patch))

    async def delete_session(self, caller: Caller, session_id: str) -> None:
        def delete(tx: Tx) -> None:
            access.session(tx, caller, session_id)
            tx.delete_session_tree(session_id)

        await self.store.write(delete)

    async def list_session_children(
        self, caller: Caller, session_id: str, *, page_size: int, cursor: str | None
    ) -> models.SessionPage:
        def fetch(tx: Tx, offset: int, limit: int) -> list[SessionRecord]:
            access.session(tx, caller, session_id)
            return tx.list_child_sessions(session_id, offset, limit)

        rows, next_cursor = await read_offset_page(self.store, cursor, page_size, fetch)
        return models.SessionPage(items=[mappers.session(r) for r in rows], next_cursor=next_cursor)

    async def list_session_runs(
        self, caller: Caller, session_id: str, *, page_size: int, cursor: str | None
    ) -> models.RunPage:
        def fetch(tx: Tx, offset: int, limit: int) -> list[RunRecord]:
            access.session(tx, caller, session_id)
            return tx.list_session_runs(session_id, offset, limit)

        rows, next_cursor = await read_offset_page(self.store, cursor, page_size, fetch)
        return models.RunPage(items=[mappers.run(r) for r in rows], next_cursor=next_cursor)

    async def compact_session(
        self, caller: Caller, session_id: str, *, body: models.CompactSessionRequest | None
    ) -> models.SessionCompactResult:
        instructions = body.instructions if body else None
        return await compaction.compact_session(
            self.store, self.resolver, self.executor, caller, session_id, instructions
        )

    async def stream_session_events(
        self,
        caller: Caller,
        session_id: str,
        *,
        follow: bool,
        run_id: str | None,
        cursor: str | None,
        last_event_id: str | None,
    ) -> AsyncIterator[SseFrame]:
        return await self.event_streams.open(
            caller,
            session_id,
            run_id=run_id,
            cursor=cursor,
            last_event_id=last_event_id,
            follow=follow,
        )

    async def get_session_queue(self, caller: Caller, session_id: str) -> models.SessionQueue:
        def read(tx: Tx) -> models.SessionQueue:
            access.session(tx, caller, session_id)
            return models.SessionQueue.model_validate({"items": queue_items(tx, session_id)})

        return await self.store.read(read)


def _check_model_ref(catalog: Catalog, ref: str) -> None:
    """Workspace models must exist in the workspace; platform models are checked at run time."""
    if ref.startswith("workspace/") and catalog.model(ref) is None:
        raise CorralError.not_found("model_not_found", "model", ref)
