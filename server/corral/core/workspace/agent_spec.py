"""An agent definition, as declared in `.corral/agents/<name>.md` (see `catalog`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AgentMode = Literal["primary", "subagent", "all"]


@dataclass(frozen=True)
class AgentSpec:
    name: str
    mode: AgentMode
    system_prompt: str
    description: str | None = None
    model: str | None = None  # a model ref; None: the session's or the platform default
    tools: tuple[str, ...] | None = None  # None: the runtime's default tool set
    max_steps: int | None = None
    run_timeout_seconds: float | None = None
    source: Literal["platform", "workspace"] = "workspace"

    @property
    def can_drive_session(self) -> bool:
        """Subagents only run when another agent delegates to them."""
        return self.mode != "subagent"
