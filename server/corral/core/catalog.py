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
                                                      (absent: all of them; core/engine_tools.py)
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

Hooks observe a run and never change its course: core/hooks.py runs them. A `command` hook runs
`command` with `/bin/sh -c` in the workspace's sandbox (cwd the workspace root), the event's
JSON on stdin and `CORRAL_HOOK_EVENT` / `CORRAL_HOOK_NAME` in its environment; the run waits
for it (a `tool.started` hook ends before its tool starts). `http`, `prompt` and `agent` hooks
are not run (an `http` hook would have the server call a URL that an agent-writable file
chose); each tells its runs so with a `hook.notice` (`hook_handler_unsupported`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, cast

from corral.core.agents import AgentMode
from corral.core.agents import AgentSpec as AgentSpec  # re-exported: part of the catalog
from corral.core.config_files import (
    InvalidFile,
    flag,
    mapping,
    optional,
    positive_int,
    positive_number,
    read_text,
    read_yaml_mapping,
    split_front_matter,
    strings,
)
from corral.core.errors import CorralError
from corral.tools.registry import NATIVE_TOOL_NAMES

# The tools this server offers agents (the catalog lists them): OAH's AskUserQuestion,
# ViewImage, WebFetch, Terminal* and TaskOutput are not among them.
NATIVE_TOOLS: tuple[str, ...] = NATIVE_TOOL_NAMES
ENGINE_TOOLS: tuple[str, ...] = ("run_action", "Skill", "AgentSwitch", "SubAgent")  # engine_tools

GUIDANCE_FILE = "AGENTS.md"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
MODEL_REF_PATTERN = re.compile(r"^(platform|workspace)/.+$")
MODEL_PROVIDERS = frozenset({"openai", "anthropic", "openai-compatible", "scripted"})
HOOK_HANDLER_TYPES = frozenset({"command", "http", "prompt", "agent"})
HOOK_EVENTS: tuple[str, ...] = (
    "run.started", "run.completed", "run.failed", "run.cancelled",
    "tool.started", "tool.completed", "tool.failed",
)  # fmt: skip
MAX_MATCHER_CHARS = 256

Source = Literal["platform", "workspace"]


@dataclass(frozen=True)
class ModelSpec:
    ref: str
    name: str
    provider: str
    model_name: str
    url: str | None = None
    source: Source = "workspace"
    # For the provider only, never serialised to clients. Workspaces are agent-writable, so
    # whoever reads `api_key_env` must restrict which server variables it may name.
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str | None = None


@dataclass(frozen=True)
class ActionSpec:
    name: str
    command: str
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    timeout_seconds: float | None = None
    callable_by_api: bool = True
    callable_by_user: bool = True
    expose_to_llm: bool = False
    retry_policy: Literal["manual", "safe"] = "manual"


@dataclass(frozen=True)
class SkillSpec:
    name: str
    content: str
    description: str | None = None
    expose_to_llm: bool = True


@dataclass(frozen=True)
class HookSpec:
    name: str
    handler_type: str
    events: tuple[str, ...] = ()
    matcher: str | None = None  # compiles: checked when the file is read
    command: str | None = None  # set for a `command` hook
    timeout_seconds: float | None = None
    options: dict[str, Any] = field(default_factory=dict)  # the handler's other options

    def fires_on(self, event: str, tool_name: str | None = None) -> bool:
        if event not in self.events:
            return False
        if tool_name is None or self.matcher is None:
            return True
        return re.fullmatch(self.matcher, tool_name) is not None


@dataclass(frozen=True)
class ToolServerSpec:
    name: str
    transport_type: str | None = None
    tool_prefix: str | None = None
    config: dict[str, Any] = field(default_factory=dict)


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
        agents=loader.each(_files(config / "agents", ".md"), _parse_agent, "agent"),
        models=loader.each(_files(config / "models", ".yaml", ".yml"), _parse_models, "model"),
        actions=loader.each(_files(config / "actions", ".yaml", ".yml"), _parse_action, "action"),
        skills=loader.each(_skill_files(config / "skills"), _parse_skill, "skill"),
        tools=loader.each(
            _existing(config / "tool-servers.yaml"), _parse_tool_servers, "tool server"
        ),
        hooks=loader.each(_files(config / "hooks", ".yaml", ".yml"), _parse_hook, "hook"),
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
                409,
                "workspace defines no default agent and no 'assistant'",
            )
    if not agent.can_drive_session:
        raise CorralError(
            "invalid_session_agent_target",
            409,
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
        self.warnings.append(f"{path.relative_to(self.root)}: {problem}")

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


def _parse_agent(path: Path) -> Iterator[AgentSpec]:
    meta, body = split_front_matter(read_text(path))
    model = optional(meta, "model", str)
    if model is not None and not MODEL_REF_PATTERN.match(model):
        raise InvalidFile(f"model {model!r} is not a ref like platform/<name> or workspace/<name>")
    mode = optional(meta, "mode", str) or "primary"
    if mode not in ("primary", "subagent", "all"):
        raise InvalidFile(f"mode must be primary, subagent or all, not {mode!r}")
    tools = strings(meta, "tools")
    yield AgentSpec(
        name=_name(meta, path.stem),
        mode=cast(AgentMode, mode),
        description=optional(meta, "description", str),
        system_prompt=body.strip(),
        model=model,
        tools=None if tools is None else tuple(tools),
        max_steps=positive_int(meta, "maxSteps"),
        run_timeout_seconds=positive_number(meta, "runTimeoutSeconds"),
    )


def _parse_models(path: Path) -> Iterator[ModelSpec]:
    for key, value in read_yaml_mapping(path).items():
        entry = mapping(value, f"model {key!r}")
        name = _name({}, key)
        provider = optional(entry, "provider", str)
        if provider not in MODEL_PROVIDERS:
            raise InvalidFile(f"model {name!r}: provider must be one of {sorted(MODEL_PROVIDERS)}")
        yield ModelSpec(
            ref=f"workspace/{name}",
            name=name,
            provider=provider,
            model_name=optional(entry, "name", str) or name,
            url=optional(entry, "url", str),
            api_key=optional(entry, "key", str),
            api_key_env=optional(entry, "keyEnv", str),
        )


def _parse_action(path: Path) -> Iterator[ActionSpec]:
    data = read_yaml_mapping(path)
    command = optional(data, "command", str)
    if not command:
        raise InvalidFile("command is required")
    retry_policy = optional(data, "retryPolicy", str) or "manual"
    if retry_policy not in ("manual", "safe"):
        raise InvalidFile(f"retryPolicy must be manual or safe, not {retry_policy!r}")
    input_schema = optional(data, "inputSchema", dict)
    yield ActionSpec(
        name=_name(data, path.stem),
        command=command,
        description=optional(data, "description", str),
        input_schema=None if input_schema is None else mapping(input_schema, "inputSchema"),
        timeout_seconds=positive_number(data, "timeoutSeconds"),
        callable_by_api=flag(data, "callableByApi", True),
        callable_by_user=flag(data, "callableByUser", True),
        expose_to_llm=flag(data, "exposeToLlm", False),
        retry_policy=cast(Literal["manual", "safe"], retry_policy),
    )


def _parse_skill(path: Path) -> Iterator[SkillSpec]:
    meta, body = split_front_matter(read_text(path))
    yield SkillSpec(
        name=_name(meta, path.parent.name),
        content=body.strip(),
        description=optional(meta, "description", str),
        expose_to_llm=flag(meta, "exposeToLlm", True),
    )


def _parse_hook(path: Path) -> Iterator[HookSpec]:
    data = read_yaml_mapping(path)
    handler_type = optional(data, "handlerType", str)
    if handler_type not in HOOK_HANDLER_TYPES:
        raise InvalidFile(f"handlerType must be one of {sorted(HOOK_HANDLER_TYPES)}")
    events = strings(data, "events")
    if not events:
        raise InvalidFile(f"events must list some of {', '.join(HOOK_EVENTS)}")
    if unknown := sorted(set(events) - set(HOOK_EVENTS)):
        raise InvalidFile(f"unknown events {unknown}; hooks fire on {', '.join(HOOK_EVENTS)}")
    command = optional(data, "command", str)
    if handler_type == "command" and not command:
        raise InvalidFile("command is required for a command hook")
    known = {"name", "matcher", "handlerType", "events", "command", "timeoutSeconds"}
    yield HookSpec(
        name=_name(data, path.stem),
        handler_type=handler_type,
        events=tuple(dict.fromkeys(events)),
        matcher=_matcher(data),
        command=command,
        timeout_seconds=positive_number(data, "timeoutSeconds"),
        options={k: v for k, v in data.items() if k not in known},
    )


def _matcher(data: dict[str, Any]) -> str | None:
    matcher = optional(data, "matcher", str)
    if matcher is None:
        return None
    if len(matcher) > MAX_MATCHER_CHARS:
        raise InvalidFile(f"matcher is longer than {MAX_MATCHER_CHARS} characters")
    try:
        re.compile(matcher)
    except (re.error, RecursionError, OverflowError) as error:
        raise InvalidFile(f"matcher is not a valid regular expression: {error}") from None
    return matcher


def _parse_tool_servers(path: Path) -> Iterator[ToolServerSpec]:
    for key, value in read_yaml_mapping(path).items():
        config = mapping(value, f"tool server {key!r}")
        yield ToolServerSpec(
            name=_name({}, key),
            transport_type=optional(config, "transportType", str),
            tool_prefix=optional(config, "toolPrefix", str),
            config=config,
        )


def _name(data: dict[str, Any], default: str) -> str:
    name = optional(data, "name", str) or default
    if not NAME_PATTERN.match(name):
        raise InvalidFile(f"name {name!r} must match {NAME_PATTERN.pattern}")
    return name
