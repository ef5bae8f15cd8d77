"""The declaration files of a workspace, one at a time: what each kind of file holds (the specs)
and how one file is read into them. Reading never follows links nor trusts the content: a
malformed file raises `InvalidFile`, which the catalog records as a warning (the layout and
format are described in corral.core.workspace.catalog).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from corral.core.workspace.agent_spec import AgentMode, AgentSpec
from corral.core.workspace.config_files import (
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

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
MODEL_REF_PATTERN = re.compile(r"^(platform|workspace)/.+$")
MODEL_PROVIDERS = frozenset({"openai", "anthropic", "openai-compatible", "scripted"})
HOOK_HANDLER_TYPES = frozenset({"command", "http", "prompt", "agent"})
HOOK_EVENTS: tuple[str, ...] = (
    "run.started",
    "run.completed",
    "run.failed",
    "run.cancelled",
    "tool.started",
    "tool.completed",
    "tool.failed",
)
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


def parse_agent(path: Path) -> Iterator[AgentSpec]:
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


def parse_models(path: Path) -> Iterator[ModelSpec]:
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


def parse_action(path: Path) -> Iterator[ActionSpec]:
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


def parse_skill(path: Path) -> Iterator[SkillSpec]:
    meta, body = split_front_matter(read_text(path))
    yield SkillSpec(
        name=_name(meta, path.parent.name),
        content=body.strip(),
        description=optional(meta, "description", str),
        expose_to_llm=flag(meta, "exposeToLlm", True),
    )


def parse_hook(path: Path) -> Iterator[HookSpec]:
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


def parse_tool_servers(path: Path) -> Iterator[ToolServerSpec]:
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
