"""What executing a run means, by trigger: a message run is an agent loop over the session's
conversation; an action run is the action's command in the workspace. Either runs between
the workspace's hooks (core/runs/hooks.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from corral.config import Settings
from corral.core.agent.delegation import ChildRuns
from corral.core.agent.engine_tools import EngineTools
from corral.core.agent.loop import AgentTurn, run_agent
from corral.core.agent.seat import AgentPreparer, AgentSeat
from corral.core.llm.run_models import ModelResolver
from corral.core.runs.action_run import run_action
from corral.core.runs.hooks import RunHooks
from corral.core.runs.journal import RunJournal
from corral.core.runs.lifecycle import Ending
from corral.core.runs.transcript import History, load_history, model_messages
from corral.core.workspace.agent_spec import AgentSpec
from corral.core.workspace.catalog import Catalog
from corral.core.workspace.catalog_cache import workspace_catalog
from corral.core.workspace.sandbox_host import SandboxHost
from corral.errors import CorralError
from corral.store import MessageRecord, RunRecord, Store, Tx, WorkspaceRecord
from corral.tools.base import ToolContext


class RunPerformer:
    def __init__(
        self, store: Store, settings: Settings, sandboxes: SandboxHost, models: ModelResolver
    ) -> None:
        self.store = store
        self.settings = settings
        self.sandboxes = sandboxes
        self.models = models
        self.children: ChildRuns | None = None  # the run executor, once built (SubAgent)
        # TodoWrite and other per-session tool state, kept while the process lives.
        self._tool_state: dict[str, dict[str, Any]] = {}

    async def perform(self, run: RunRecord) -> Ending:
        ws = await self.store.read(lambda tx: tx.get_workspace(run.workspace_id))
        if ws is None:
            return Ending("failed", "workspace_not_found", "the run's workspace no longer exists")
        catalog = await workspace_catalog(Path(ws.root_path))
        hooks = RunHooks(
            RunJournal(self.store, run, run.effective_agent_name),
            catalog.hooks,
            self.sandboxes.sandbox(ws),
            self.sandboxes,
        )
        return await hooks.around(lambda: self._perform(run, ws, catalog, hooks))

    async def _perform(
        self, run: RunRecord, ws: WorkspaceRecord, catalog: Catalog, hooks: RunHooks
    ) -> Ending:
        try:
            if run.trigger_type in ("api_action", "manual_action"):
                return await run_action(
                    self.store, run, catalog, hooks.sandbox, self.sandboxes, hooks
                )
            if run.trigger_type != "message":
                return Ending(
                    "failed",
                    "unsupported_run",
                    f"runs of type {run.trigger_type} cannot be executed",
                )
            return await self._agent_run(run, ws, catalog, hooks)
        except CorralError as exc:  # e.g. the agent's model cannot be resolved: the run's fault
            return Ending("failed", exc.code, exc.message)

    async def _agent_run(
        self, run: RunRecord, ws: WorkspaceRecord, catalog: Catalog, hooks: RunHooks
    ) -> Ending:
        agent = catalog.agent(run.effective_agent_name)
        if agent is None:
            return Ending(
                "failed",
                "agent_not_found",
                f"agent {run.effective_agent_name!r} is not defined in the workspace",
            )
        loaded = await self.store.read(lambda tx: _conversation(tx, run))
        if loaded is None:
            return Ending("failed", "message_not_found", "the run's message no longer exists")
        trigger, history, model_ref = loaded
        journal = RunJournal(self.store, run, agent.name)
        seat = await self._seat(journal, agent, catalog, trigger, history, model_ref)
        turn = AgentTurn(
            journal=journal,
            seat=seat,
            history=model_messages(history.messages),
            tool_context=self._tool_context(run, ws),
            hooks=hooks,
        )
        if agent.run_timeout_seconds is None:
            return await run_agent(turn)
        try:
            async with asyncio.timeout(agent.run_timeout_seconds):
                return await run_agent(turn)
        except TimeoutError:
            return Ending(
                "timed_out",
                "run_timed_out",
                f"the run exceeded its {agent.run_timeout_seconds:g} s time limit",
                metadata={"usage": turn.usage.as_json()},
            )

    async def _seat(
        self,
        journal: RunJournal,
        agent: AgentSpec,
        catalog: Catalog,
        trigger: MessageRecord,
        history: History,
        model_ref: str | None,
    ) -> AgentSeat:
        """The run's first agent prepared, and the engine tools of the run."""
        assert self.children is not None, "wired by the container"
        engine = EngineTools(self.store, journal, catalog, self.children)
        script = (trigger.metadata or {}).get("script")
        preparer = AgentPreparer(
            self.models,
            catalog,
            model_ref,
            script if isinstance(script, list) else None,
            history.summary,
            engine.offered,
        )
        engine.seat = AgentSeat(await preparer.prepare(agent), preparer, journal.run.switch_count)
        return engine.seat

    def _tool_context(self, run: RunRecord, ws: WorkspaceRecord) -> ToolContext:
        """What the tools may touch: the workspace, through a sandbox that is read-only when
        the workspace is (the file tools ask it too)."""
        assert run.session_id is not None
        s = self.settings
        return ToolContext(
            root=Path(ws.root_path),
            sandbox=self.sandboxes.sandbox(ws),
            session_id=run.session_id,
            run_id=run.id,
            default_timeout_s=s.sandbox_timeout_ms / 1000,
            max_timeout_s=s.sandbox_max_timeout_ms / 1000,
            state=self._tool_state.setdefault(run.session_id, {}),
        )


def _conversation(tx: Tx, run: RunRecord) -> tuple[MessageRecord, History, str | None] | None:
    if run.session_id is None or run.trigger_ref is None:
        return None
    trigger = tx.get_message(run.session_id, run.trigger_ref)
    session = tx.get_session(run.session_id)
    if trigger is None or session is None:
        return None
    return trigger, load_history(tx, run.session_id, upto=trigger.key), session.model_ref
