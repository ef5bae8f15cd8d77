"""What executing a run means, by trigger: a message run is an agent loop over the session's
conversation; an action run is the action's command in the workspace. Either runs between
the workspace's hooks (core/hooks.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from corral.config import Settings
from corral.core.action_run import run_action
from corral.core.agent_loop import AgentTurn, run_agent
from corral.core.agents import AgentSpec
from corral.core.catalog import GUIDANCE_FILE, Catalog
from corral.core.catalog_cache import workspace_catalog
from corral.core.errors import CorralError
from corral.core.hooks import RunHooks
from corral.core.run_journal import RunJournal
from corral.core.run_lifecycle import Ending
from corral.core.run_models import ModelResolver
from corral.core.sandbox_host import SandboxHost
from corral.core.transcript import History, load_history, model_messages
from corral.providers.base import ModelRequest
from corral.store import MessageRecord, RunRecord, Store, Tx
from corral.tools.base import ToolContext
from corral.tools.registry import native_tools, tool_spec

DEFAULT_MAX_STEPS = 50


class RunPerformer:
    def __init__(
        self, store: Store, settings: Settings, sandboxes: SandboxHost, models: ModelResolver
    ) -> None:
        self.store = store
        self.settings = settings
        self.sandboxes = sandboxes
        self.models = models
        # TodoWrite and other per-session tool state, kept while the process lives.
        self._tool_state: dict[str, dict[str, Any]] = {}

    async def perform(self, run: RunRecord) -> Ending:
        ws = await self.store.read(lambda tx: tx.get_workspace(run.workspace_id))
        if ws is None:
            return Ending("failed", "workspace_not_found", "the run's workspace no longer exists")
        root = Path(ws.root_path)
        catalog = await workspace_catalog(root)
        hooks = RunHooks(RunJournal(self.store, run, run.effective_agent_name), catalog.hooks,
                         self.sandboxes.sandbox(root), self.sandboxes)  # fmt: skip
        return await hooks.around(lambda: self._perform(run, root, catalog, hooks))

    async def _perform(self, run: RunRecord, root: Path, catalog: Catalog,
                       hooks: RunHooks) -> Ending:  # fmt: skip
        try:
            if run.trigger_type in ("api_action", "manual_action"):
                return await run_action(self.store, run, catalog, hooks.sandbox,
                                        self.sandboxes, hooks)  # fmt: skip
            if run.trigger_type != "message":
                return Ending("failed", "unsupported_run", f"runs of type {run.trigger_type} "
                              "cannot be executed")  # fmt: skip
            return await self._agent_run(run, root, catalog, hooks)
        except CorralError as exc:  # e.g. the agent's model cannot be resolved: the run's fault
            return Ending("failed", exc.code, exc.message)

    async def _agent_run(self, run: RunRecord, root: Path, catalog: Catalog,
                         hooks: RunHooks) -> Ending:  # fmt: skip
        agent = catalog.agent(run.effective_agent_name)
        if agent is None:
            return Ending("failed", "agent_not_found",
                          f"agent {run.effective_agent_name!r} is not defined in the workspace")
        loaded = await self.store.read(lambda tx: _conversation(tx, run))
        if loaded is None:
            return Ending("failed", "message_not_found", "the run's message no longer exists")
        trigger, history, model_ref = loaded
        model = await self.models.resolve(model_ref or agent.model, catalog)
        tools = native_tools(agent.tools)
        options = dict(model.options)
        if isinstance(script := (trigger.metadata or {}).get("script"), list):
            options["script"] = script
        request = ModelRequest(
            model=model.model_name, messages=model_messages(history.messages),
            system=_system_prompt(agent, catalog, history),
            tools=[tool_spec(t) for t in tools], options=options,
        )  # fmt: skip
        assert run.session_id is not None
        turn = AgentTurn(
            journal=RunJournal(self.store, run, agent.name),
            provider=model.provider, provider_name=model.provider_name, request=request,
            tools={t.name: t for t in tools}, tool_context=self._tool_context(run, root),
            max_steps=agent.max_steps or DEFAULT_MAX_STEPS, hooks=hooks,
        )  # fmt: skip
        if agent.run_timeout_seconds is None:
            return await run_agent(turn)
        try:
            async with asyncio.timeout(agent.run_timeout_seconds):
                return await run_agent(turn)
        except TimeoutError:
            return Ending("timed_out", "run_timed_out",
                          f"the run exceeded its {agent.run_timeout_seconds:g} s time limit",
                          metadata={"usage": turn.usage.as_json()})  # fmt: skip

    def _tool_context(self, run: RunRecord, root: Path) -> ToolContext:
        assert run.session_id is not None
        s = self.settings
        return ToolContext(
            root=root, sandbox=self.sandboxes.sandbox(root), session_id=run.session_id,
            run_id=run.id, default_timeout_s=s.sandbox_timeout_ms / 1000,
            max_timeout_s=s.sandbox_max_timeout_ms / 1000,
            state=self._tool_state.setdefault(run.session_id, {}),
        )  # fmt: skip


def _conversation(tx: Tx, run: RunRecord) -> tuple[MessageRecord, History, str | None] | None:
    if run.session_id is None or run.trigger_ref is None:
        return None
    trigger = tx.get_message(run.session_id, run.trigger_ref)
    session = tx.get_session(run.session_id)
    if trigger is None or session is None:
        return None
    return trigger, load_history(tx, run.session_id, upto=trigger.key), session.model_ref


def _system_prompt(agent: AgentSpec, catalog: Catalog, history: History) -> str:
    parts = [agent.system_prompt.strip()]
    if catalog.guidance:
        parts.append(f"# {GUIDANCE_FILE} (workspace guidance)\n\n{catalog.guidance}")
    parts.append("Paths are relative to the workspace root; commands run there.")
    if history.summary:
        parts.append(f"# Summary of the earlier conversation\n\n{history.summary}")
    return "\n\n".join(p for p in parts if p)
