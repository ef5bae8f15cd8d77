"""run_action and Skill: the workspace's actions and skills that are exposed to the model
(`exposeToLlm`), as engine tools (docs/contract.md#engine-tools). run_action checks the input
against the action's schema as the API does, runs the action's command as an action run would
(within the tool call, in the run's sandbox) and answers with its result; Skill answers with a
skill's instructions. Actions and skills not exposed do not exist as far as the model can tell.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from corral.core.runs.action_run import check_input, command_failure, run_command
from corral.core.workspace.agent_spec import AgentSpec
from corral.core.workspace.catalog import Catalog
from corral.core.workspace.declarations import ActionSpec, SkillSpec
from corral.errors import CorralError
from corral.tools.base import Tool, ToolContext, ToolError, ToolResult, entry_line
from corral.tools.native import NativeTool, schema

if TYPE_CHECKING:
    from corral.core.agent.engine_tools import EngineTools

RUN_ACTION_SCHEMA = schema(
    {
        "name": {"type": "string", "minLength": 1, "description": "The action to run."},
        "input": {"type": "object", "description": "The action's input, as its schema says."},
    },
    "name",
)
SKILL_SCHEMA = schema(
    {"name": {"type": "string", "minLength": 1, "description": "The skill to read."}}, "name"
)


def offer_run_action(engine: EngineTools, agent: AgentSpec) -> Tool | None:
    actions = _actions(engine.catalog)
    if not actions:
        return None
    listing = "\n".join(_action_line(a) for a in actions)
    description = (
        "Run one of the workspace's actions, a command its authors prepared, with `input` (an "
        "object; omit it when the action takes none). The result is the command's stdout, "
        "stderr and exit code. Actions:\n" + listing
    )
    return NativeTool(
        "run_action",
        description,
        RUN_ACTION_SCHEMA,
        functools.partial(_run_action, engine.catalog),
        source_type="action",
    )


def offer_skill(engine: EngineTools, agent: AgentSpec) -> Tool | None:
    skills = _skills(engine.catalog)
    if not skills:
        return None
    listing = "\n".join(entry_line(s) for s in skills)
    description = (
        "Read a skill: instructions for a kind of task, written for this workspace. Read the "
        "one that fits before you start such a task. Skills:\n" + listing
    )
    return NativeTool(
        "Skill",
        description,
        SKILL_SCHEMA,
        functools.partial(_skill, engine.catalog),
        source_type="skill",
    )


def _actions(catalog: Catalog) -> list[ActionSpec]:
    return [a for a in catalog.actions if a.expose_to_llm]


def _skills(catalog: Catalog) -> list[SkillSpec]:
    return [s for s in catalog.skills if s.expose_to_llm]


def _action_line(action: ActionSpec) -> str:
    line = entry_line(action)
    if action.input_schema is not None:
        line += f" (input schema: {json.dumps(action.input_schema, separators=(',', ':'))})"
    return line


async def _run_action(catalog: Catalog, ctx: ToolContext, input: dict[str, Any]) -> ToolResult:
    name, value = input["name"], input.get("input", {})
    action = catalog.action(name)
    if action is None or not action.expose_to_llm:
        names = ", ".join(a.name for a in _actions(catalog))
        raise ToolError("action_not_found", f"there is no action named {name!r}; actions: {names}")
    try:
        check_input(action, value)
    except CorralError as exc:
        problems = "; ".join((exc.details or {}).get("errors", []))
        raise ToolError(
            exc.code, f"{exc.message}: {problems}" if problems else exc.message
        ) from None
    timeout_s = min(action.timeout_seconds or ctx.default_timeout_s, ctx.max_timeout_s)
    result = await run_command(ctx.sandbox, action, value, timeout_s)
    if (problem := command_failure(result)) is not None:
        raise ToolError("tool_timed_out" if result["timedOut"] else "action_failed", problem)
    return ToolResult.json(result, exitCode=result["exitCode"])


async def _skill(catalog: Catalog, ctx: ToolContext, input: dict[str, Any]) -> ToolResult:
    name = input["name"]
    skill = next((s for s in _skills(catalog) if s.name == name), None)
    if skill is None:
        names = ", ".join(s.name for s in _skills(catalog))
        raise ToolError("skill_not_found", f"there is no skill named {name!r}; skills: {names}")
    return ToolResult.text(skill.content, skill=skill.name)
