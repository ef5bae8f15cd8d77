"""The agent in charge of a message run, prepared to be called: its model's provider, the
request it sends (system prompt, tools offered) and its tools by name.

A run starts with the agent of its session; `AgentSwitch` prepares a successor, who takes the
seat before the next model call (docs/contract.md#agent-switch), so the rest of the run uses the
successor's system prompt, tools and model. Each agent's `maxSteps` bounds the model calls it makes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from corral.core.llm.run_models import ModelResolver
from corral.core.workspace.agent_spec import AgentSpec
from corral.core.workspace.catalog import GUIDANCE_FILE, Catalog
from corral.providers.base import ModelProvider, ModelRequest
from corral.providers.transcript_types import ModelMessage
from corral.tools.base import Tool
from corral.tools.registry import native_tools, tool_spec

DEFAULT_MAX_STEPS = 50


@dataclass(frozen=True)
class PreparedAgent:
    spec: AgentSpec
    provider: ModelProvider
    provider_name: str
    request: ModelRequest  # without messages: the loop sends the conversation so far
    tools: dict[str, Tool]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def max_steps(self) -> int:
        return self.spec.max_steps or DEFAULT_MAX_STEPS

    def request_with(self, messages: list[ModelMessage]) -> ModelRequest:
        return replace(self.request, messages=messages)


@dataclass(frozen=True)
class AgentPreparer:
    """Prepares any agent of the workspace for one run: the same session, trigger message and
    history whoever is in charge."""

    models: ModelResolver
    catalog: Catalog
    session_model_ref: str | None  # a session's model wins over its agents' own
    script: list[Any] | None  # the scripted model's script, from the trigger's metadata
    summary: str | None  # the last compaction's summary of the conversation
    engine_tools: Callable[[AgentSpec], list[Tool]]

    async def prepare(self, agent: AgentSpec) -> PreparedAgent:
        """Raises CorralError when the agent's model cannot be resolved."""
        model = await self.models.resolve(self.session_model_ref or agent.model, self.catalog)
        tools = [*native_tools(agent.tools), *self.engine_tools(agent)]
        options = dict(model.options)
        if self.script is not None:
            options["script"] = self.script
        request = ModelRequest(
            model=model.model_name,
            messages=[],
            system=self._system_prompt(agent),
            tools=[tool_spec(t) for t in tools],
            options=options,
        )
        return PreparedAgent(
            agent, model.provider, model.provider_name, request, {t.name: t for t in tools}
        )

    def _system_prompt(self, agent: AgentSpec) -> str:
        parts = [agent.system_prompt.strip()]
        if self.catalog.guidance:
            parts.append(f"# {GUIDANCE_FILE} (workspace guidance)\n\n{self.catalog.guidance}")
        parts.append("Paths are relative to the workspace root; commands run there.")
        if self.summary:
            parts.append(f"# Summary of the earlier conversation\n\n{self.summary}")
        return "\n\n".join(p for p in parts if p)


@dataclass
class AgentSeat:
    agent: PreparedAgent
    preparer: AgentPreparer
    switch_count: int = 0  # switches of the run so far (the run's `switchCount`)
    successor: PreparedAgent | None = None
    # The target of a switch under way or made this turn: a second AgentSwitch is refused.
    claimed_by: str | None = None

    def take_over(self) -> bool:
        """Seat the successor, if a switch named one; called between turns."""
        if self.successor is None:
            return False
        self.agent, self.successor, self.claimed_by = self.successor, None, None
        return True
