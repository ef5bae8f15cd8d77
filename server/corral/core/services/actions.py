"""Workspace actions triggered over the API: checked against the action's declaration (who may
call it, its input schema), then queued as a run of a session like any message run."""

from __future__ import annotations

from pathlib import Path

from corral import clock, models
from corral.caller import Caller
from corral.core.runs import queue
from corral.core.runs.action_run import check_input
from corral.core.runs.executor import Wake
from corral.core.workspace import access
from corral.core.workspace.catalog import Catalog, resolve_agent
from corral.core.workspace.catalog_cache import workspace_catalog
from corral.core.workspace.declarations import ActionSpec
from corral.errors import CorralError
from corral.ids import new_id
from corral.store import RunRecord, SessionRecord, Store, Tx


class ActionsService:
    def __init__(self, store: Store, wake: Wake) -> None:
        self.store = store
        self.wake = wake

    async def trigger_action_run(
        self,
        caller: Caller,
        workspace_id: str,
        action_name: str,
        *,
        body: models.TriggerActionRequest | None,
    ) -> models.ActionRunAccepted:
        body = body or models.TriggerActionRequest()
        ws = await self.store.read(lambda tx: access.workspace(tx, caller, workspace_id))
        catalog = await workspace_catalog(Path(ws.root_path))
        action = catalog.action(action_name)
        if action is None:
            raise CorralError.not_found("action_not_found", "action", action_name)
        source = body.trigger_source.value if body.trigger_source else "api"
        _check_callable(action, source)
        action_input = {} if body.input is None else body.input  # absent: an empty object
        check_input(action, action_input)
        agent_name = body.agent_name or _default_agent(catalog)

        def enqueue(tx: Tx) -> RunRecord:
            access.workspace(tx, caller, workspace_id)
            now = clock.now()
            # An empty sessionId is absent, as for OAH: the action gets a session of its own.
            session = _action_session(
                tx, caller, workspace_id, body.session_id or None, action.name, agent_name
            )
            run = RunRecord(
                id=new_id("run"),
                workspace_id=workspace_id,
                session_id=session.id,
                status="queued",
                trigger_type="api_action" if source == "api" else "manual_action",
                trigger_ref=action.name,
                agent_name=agent_name,
                effective_agent_name=agent_name,
                initiator_ref=caller.subject_ref,
                created_at=now,
                metadata={
                    "actionName": action.name,
                    "input": action_input,
                    "triggerSource": source,
                },
            )
            queue.place(tx, run)
            tx.touch_session(session.id, now)
            return run

        run = await self.store.write(enqueue)
        assert run.session_id is not None
        await self.wake(run.session_id)
        return models.ActionRunAccepted(
            run_id=run.id, action_name=action.name, session_id=run.session_id
        )


def _check_callable(action: ActionSpec, source: str) -> None:
    by_user = source == "user"
    if not (action.callable_by_user if by_user else action.callable_by_api):
        raise CorralError(
            "action_not_callable_by_user" if by_user else "action_not_callable_by_api",
            f"action {action.name!r} cannot be triggered by {source}",
            {"action": action.name, "triggerSource": source},
        )


def _default_agent(catalog: Catalog) -> str:
    try:
        return resolve_agent(catalog, None).name
    except CorralError:
        return "action"  # a workspace with no agents can still run its actions


def _action_session(
    tx: Tx, caller: Caller, workspace_id: str, session_id: str | None, action: str, agent: str
) -> SessionRecord:
    if session_id is not None:
        session = access.session(tx, caller, session_id)
        if session.workspace_id != workspace_id:
            raise CorralError(
                "session_workspace_mismatch",
                f"session {session_id!r} belongs to another workspace",
                {"sessionId": session_id, "workspaceId": workspace_id},
            )
        return session
    now = clock.now()
    session = SessionRecord(
        id=new_id("ses"),
        workspace_id=workspace_id,
        subject_ref=caller.subject_ref,
        active_agent_name=agent,
        agent_name=agent,
        title=f"Action · {action}",
        created_at=now,
        updated_at=now,
    )
    tx.insert_session(session)
    return session
