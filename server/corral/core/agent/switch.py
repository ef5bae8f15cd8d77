"""AgentSwitch: the agent in charge of a run hands the rest of it to another primary agent of
the workspace (docs/contract.md#agent-switch). The successor is prepared first (its model resolved,
so a switch to an agent whose model cannot be reached is an error result and changes nothing); then
one write records the switch: the run's `effectiveAgentName` and `switchCount`, an `agent_switch`
step, `agent.switch.requested` and `agent.switched`. The successor takes the seat before the
next model call (core/agent/seat.py), and the session's `activeAgentName` follows when the run
completes (core/runs/lifecycle.py).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from corral.core.runs.journal import RunJournal
from corral.core.workspace.agent_spec import AgentSpec
from corral.errors import CorralError
from corral.store import Tx
from corral.tools.base import Tool, ToolContext, ToolError, ToolResult, entry_line
from corral.tools.native import NativeTool, schema

if TYPE_CHECKING:
    from corral.core.agent.engine_tools import EngineTools

NAME = "AgentSwitch"
MAX_SWITCHES = 8  # per run: two agents handing the run back and forth must still end
INPUT_SCHEMA = schema(
    {"agent": {"type": "string", "minLength": 1, "description": "The agent to hand over to."}},
    "agent",
)


def offer(engine: EngineTools, agent: AgentSpec) -> Tool | None:
    """Offered to the primary agent of a top-level run when the workspace has another one."""
    if engine.run.parent_run_id is not None or not agent.can_drive_session:
        return None
    targets = _targets(engine, agent.name)
    if not targets:
        return None
    listing = "\n".join(entry_line(a) for a in targets)
    description = (
        "Hand the rest of this conversation to another agent: after this call it answers "
        "instead of you, with its own instructions and tools, and it sees the conversation so "
        "far. Use it when the request is better served by that agent. Agents:\n" + listing
    )
    return NativeTool(
        NAME, description, INPUT_SCHEMA, functools.partial(_switch, engine), source_type="agent"
    )


def _targets(engine: EngineTools, current: str) -> list[AgentSpec]:
    return [a for a in engine.catalog.agents if a.can_drive_session and a.name != current]


async def _switch(engine: EngineTools, ctx: ToolContext, input: dict[str, Any]) -> ToolResult:
    seat, name = engine.current_seat(), input["agent"]
    current = seat.agent.name
    if seat.switch_count >= MAX_SWITCHES:
        raise ToolError(
            "agent_switch_limit",
            f"this run has switched agents {MAX_SWITCHES} times, the most it may; "
            "answer the user instead",
        )
    target = _target(engine, current, name)
    if seat.claimed_by is not None:
        raise ToolError(
            "agent_switch_pending",
            f"a switch to {seat.claimed_by!r} is already under way in this turn",
        )
    seat.claimed_by = name  # until the successor takes the seat
    count = seat.switch_count + 1
    try:
        successor = await seat.preparer.prepare(target)
        await engine.store.write(
            lambda tx: _record(tx, engine.journal, current, name, count, ctx.tool_call_id)
        )
    except BaseException as exc:
        seat.claimed_by = None
        if isinstance(exc, CorralError):  # e.g. its model cannot be resolved
            raise ToolError(exc.code, f"cannot switch to {name!r}: {exc.message}") from None
        raise
    seat.successor, seat.switch_count = successor, count
    return ToolResult.text(
        f"Switched from {current} to {name}: {name} answers from here on.",
        fromAgent=current,
        toAgent=name,
        switchCount=count,
    )


def _target(engine: EngineTools, current: str, name: str) -> AgentSpec:
    target = engine.catalog.agent(name)
    others = ", ".join(a.name for a in _targets(engine, current)) or "none"
    if target is None:
        raise ToolError(
            "agent_not_found",
            f"there is no agent named {name!r}; agents you can switch to: {others}",
        )
    if not target.can_drive_session:
        raise ToolError(
            "invalid_agent_switch_target",
            f"{name!r} is a subagent: delegate a task to it with SubAgent instead; "
            f"agents you can switch to: {others}",
        )
    if target.name == current:
        raise ToolError("invalid_agent_switch_target", f"you already are {name!r}")
    return target


def _record(tx: Tx, journal: RunJournal, current: str, name: str, count: int, call_id: str) -> None:
    run = tx.get_run(journal.run.id)
    if run is not None:
        tx.update_run(replace(run, effective_agent_name=name, switch_count=count))
    agents = {"fromAgent": current, "toAgent": name}
    journal.emit(tx, "agent.switch.requested", sessionId=journal.session_id, **agents)
    step = journal.step("agent_switch", name, {"toolCallId": call_id, **agents})
    step.close(tx, "completed", {"switchCount": count})
    journal.emit(tx, "agent.switched", sessionId=journal.session_id, **agents, switchCount=count)
