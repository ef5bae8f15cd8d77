"""What a workspace declares: agents, models, actions, skills, hooks and tool servers.

Workspace layout (a runtime template has the same shape; it is copied into new workspaces)::

    AGENTS.md                    guidance prepended to every agent's context
    .corral/settings.yaml        {defaultAgent?: assistant, description?: "..."}
    .corral/agents/<name>.md     YAML front matter + body (the body is the system prompt):
                                   name?              defaults to the file stem
                                   mode?              primary | subagent | all (default primary)
                                   description?
                                   model?             a ref: platform/<name> or workspace/<name>
                                   tools?             tool names the agent may call, native
                                                      (NATIVE_TOOLS) and engine (ENGINE_TOOLS)
                                                      (absent: all of them; agent/engine_tools.py)
                                   maxSteps?          positive int
                                   runTimeoutSeconds? positive number
    .corral/models/*.yaml        {<name>: {provider, name?, url?, key?, keyEnv?}}
                                   provider: openai | anthropic | openai-compatible | scripted
                                   name defaults to <name>; referenced as workspace/<name>
    .corral/actions/<name>.yaml  {name?, description?, command, inputSchema?, timeoutSeconds?,
                                  callableByApi? (true), callableByUser? (true),
                                  exposeToLlm? (false), retryPolicy? (manual | safe)}
    .corral/skills/<name>/SKILL.md  front matter {name?, description?, exposeToLlm? (true)} + body
    .corral/hooks/<name>.yaml    {name?, handlerType: command|http|prompt|agent, events: [...],
                                  matcher?, command (command hooks), timeoutSeconds? (30),
                                  ...other handler options (url, prompt, ...)}
                                   events: run.started | run.completed | run.failed (timed out
                                     too) | run.cancelled | tool.started | tool.completed |
                                     tool.failed
                                   matcher: a regular expression the whole tool name must
                                     match (tool events only; absent: every tool)
    .corral/tool-servers.yaml    {<name>: {transportType?, toolPrefix?, ...server config}}

Files may end in `.yml` as well as `.yaml`. Names match `NAME_PATTERN`. The workspace is
writable by agents, so loading never follows symlinks, caps file sizes and never raises on a
malformed file: it skips the file and records a line in `Catalog.warnings`.

Hooks observe a run and never change its course: core/runs/hooks.py runs them. A `command` hook runs
`command` with `/bin/sh -c` in the workspace's sandbox (cwd the workspace root), the event's
JSON on stdin and `CORRAL_HOOK_EVENT` / `CORRAL_HOOK_NAME` in its environment; the run waits
for it (a `tool.started` hook ends before its tool starts). `http`, `prompt` and `agent` hooks
are not run (an `http` hook would have the server call a URL that an agent-writable file
chose); each tells its runs so with a `hook.notice` (`hook_handler_unsupported`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from corral.core.workspace.agent_spec import (
    AgentSpec as AgentSpec,  # re-exported: part of the catalog
)
from corral.core.workspace.config_files import InvalidFile, read_text, read_yaml_mapping
from corral.core.workspace.declarations import (
    ActionSpec,
    HookSpec,
    ModelSpec,
    SkillSpec,
    ToolServerSpec,
    parse_action,
    parse_agent,
    parse_hook,
    parse_models,
    parse_skill,
    parse_tool_servers,
)
from corral.errors import CorralError
from corral.surrogates import storable
from corral.tools.registry import NATIVE_TOOL_NAMES

# The tools this server offers agents (the catalog lists them): OAH's AskUserQuestion,
# ViewImage, WebFetch, Terminal* and TaskOutput are not among them.
NATIVE_TOOLS: tuple[str, ...] = NATIVE_TOOL_NAMES
ENGINE_TOOLS: tuple[str, ...] = ("run_action", "Skill", "AgentSwitch", "SubAgent")  # engine_tools

GUIDANCE_FILE = "AGENTS.md"


@dataclass
class Catalog:
    """Every list is sorted by name and holds unique names."""

    agents: list[AgentSpec] = field(default_factory=list)
    models: list[ModelSpec] = field(default_factory=list)
    actions: list[ActionSpec] = field(default_factory=list)
    skills: list[SkillSpec] = field(default_factory=list)
    tools: list[ToolServerSpec] = field(default_factory=list)
    hooks: list[HookSpec] = field(default_factory=list)
    native_tools: list[str] = field(default_factory=lambda: list(NATIVE_TOOLS))
    engine_tools: list[str] = field(default_factory=lambda: list(ENGINE_TOOLS))
    default_agent: str | None = None
    guidance: str = ""  # AGENTS.md, as agents are shown it
    warnings: list[str] = field(default_factory=list)

    def agent(self, name: str) -> AgentSpec | None:
        return next((a for a in self.agents if a.name == name), None)

    def action(self, name: str) -> ActionSpec | None:
        return next((a for a in self.actions if a.name == name), None)

    def model(self, ref: str) -> ModelSpec | None:
        return next((m for m in self.models if m.ref == ref), None)


def load_catalog(root: Path) -> Catalog:
    loader = _Loader(root)
    config = root / ".corral"
    if config.is_symlink():
        loader.warn(config, "is a symlink; ignored")
        return Catalog(warnings=loader.warnings)
    settings = loader.settings()
    catalog = Catalog(
        agents=loader.each(_files(config / "agents", ".md"), parse_agent, "agent"),
        models=loader.each(_files(config / "models", ".yaml", ".yml"), parse_models, "model"),
        actions=loader.each(_files(config / "actions", ".yaml", ".yml"), parse_action, "action"),
        skills=loader.each(_skill_files(config / "skills"), parse_skill, "skill"),
        tools=loader.each(
            _existing(config / "tool-servers.yaml"), parse_tool_servers, "tool server"
        ),
        hooks=loader.each(_files(config / "hooks", ".yaml", ".yml"), parse_hook, "hook"),
        guidance=loader.guidance(root / GUIDANCE_FILE),
        warnings=loader.warnings,
    )
    default = settings.get("defaultAgent")
    if isinstance(default, str) and default:
        catalog.default_agent = default
        if catalog.agent(default) is None:
            loader.warn(config / "settings.yaml", f"defaultAgent {default!r} is not defined")
    elif default is not None:
        loader.warn(config / "settings.yaml", "defaultAgent must be a non-empty string")
    return catalog


def load_settings(root: Path) -> dict[str, Any]:
    """`.corral/settings.yaml` as a mapping; empty when missing or malformed."""
    return _Loader(root).settings()


def resolve_agent(catalog: Catalog, name: str | None) -> AgentSpec:
    """The agent a new session runs: `name`, else the default agent, else `assistant`."""
    if name is not None:
        agent = catalog.agent(name)
        if agent is None:
            raise CorralError.not_found("agent_not_found", "agent", name)
    else:
        candidates = (catalog.default_agent, "assistant")
        agent = next((a for c in candidates if c and (a := catalog.agent(c))), None)
        if agent is None:
            raise CorralError(
                "missing_default_agent",
                "workspace defines no default agent and no 'assistant'",
            )
    if not agent.can_drive_session:
        raise CorralError(
            "invalid_session_agent_target",
            f"agent {agent.name!r} is a subagent and cannot drive a session",
            {"agent": agent.name},
        )
    return agent


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_Spec = TypeVar("_Spec", bound=_Named)


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.warnings: list[str] = []

    def warn(self, path: Path, problem: str) -> None:
        # A file name that is not UTF-8 is shown with U+FFFD for its bytes.
        self.warnings.append(storable(f"{path.relative_to(self.root)}: {problem}"))

    def settings(self) -> dict[str, Any]:
        path = self.root / ".corral" / "settings.yaml"
        if not _existing(path) or path.parent.is_symlink():
            return {}
        try:
            return read_yaml_mapping(path)
        except InvalidFile as problem:
            self.warn(path, str(problem))
            return {}

    def guidance(self, path: Path) -> str:
        if not _existing(path):
            return ""
        try:
            return read_text(path).strip()
        except InvalidFile as problem:
            self.warn(path, str(problem))
            return ""

    def each(
        self, paths: Iterable[Path], parse: Callable[[Path], Iterable[_Spec]], kind: str
    ) -> list[_Spec]:
        """Parse every file, skipping broken ones; the first definition of a name wins."""
        by_name: dict[str, _Spec] = {}
        for path in paths:
            try:
                items = list(parse(path))
            except InvalidFile as problem:
                self.warn(path, str(problem))
                continue
            for item in items:
                if item.name in by_name:
                    self.warn(path, f"duplicate {kind} name {item.name!r} ignored")
                else:
                    by_name[item.name] = item
        return [by_name[name] for name in sorted(by_name)]


# Listings include symlinks on purpose: reading one records a warning instead of hiding it.
def _files(directory: Path, *suffixes: str) -> list[Path]:
    if not _is_real_dir(directory):
        return []
    return sorted(p for p in directory.iterdir() if p.name.endswith(suffixes) and not p.is_dir())


def _skill_files(directory: Path) -> list[Path]:
    if not _is_real_dir(directory):
        return []
    skill_dirs = (d for d in sorted(directory.iterdir()) if _is_real_dir(d))
    return [path for d in skill_dirs for path in _existing(d / "SKILL.md")]


def _existing(path: Path) -> list[Path]:
    return [path] if path.exists() or path.is_symlink() else []


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()
