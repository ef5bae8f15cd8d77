"""Typed session events: one model per event name, joined in the discriminated union `Event`.

Each model holds the event's payload in snake_case (`run_id`, `tool_name`, …) plus `cursor`,
the event's per-session position (the SSE `id`). Fields the server adds later are kept
(`event.model_extra`); an event name this SDK does not know, or a payload that does not fit
its model, becomes an `UnknownEvent` holding the raw payload: a newer server never breaks an
older client.

    for event in session.stream("hi"):
        match event:
            case MessageDelta(delta=str(text)):
                print(text, end="")
            case ToolStarted(tool_name=name):
                print(f"[{name}]")
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel


# Not corral_client's generated payload models: those are attrs classes with UNSET fields and
# parts as classes, carry no cursor, and drop what a newer server adds (the spec test keeps
# these in step: tests/sdk/test_events_parsing.py).
class BaseEvent(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True
    )

    event: str
    cursor: int
    run_id: str | None = None


class RunQueued(BaseEvent):
    """A run was created (or requeued by recovery: then `recovered_by` and more are set)."""

    event: Literal["run.queued"] = "run.queued"
    session_id: str | None = None
    status: str = "queued"
    recovered_by: str | None = None
    recovery_attempt: int | None = None
    recovery_state: str | None = None
    recovery_reason: str | None = None
    recovery_strategy: str | None = None
    previous_status: str | None = None
    requested_by: str | None = None


class QueuedRun(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    run_id: str
    message_id: str | None = None
    content: str = ""
    position: int = 0


class QueueUpdated(BaseEvent):
    """The session's queue of follow-up runs changed (`action`: enqueued, promoted,
    dequeued, removed); `items` is the queue afterwards."""

    event: Literal["queue.updated"] = "queue.updated"
    action: str
    items: list[QueuedRun] = []
    queued_position: int | None = None


class RunStarted(BaseEvent):
    event: Literal["run.started"] = "run.started"
    session_id: str | None = None
    status: str = "running"


class MessageDelta(BaseEvent):
    """Streamed text: `delta` is the new chunk; when reasoning or structured parts stream,
    `content` carries the message's parts so far instead."""

    event: Literal["message.delta"] = "message.delta"
    message_id: str
    delta: str | None = None
    content: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None


class MessageCompleted(BaseEvent):
    """A message in its final form: an assistant reply (`finish_reason` on the last one), a
    tool call, or a tool result (`tool_name`, `tool_call_id` set)."""

    event: Literal["message.completed"] = "message.completed"
    message_id: str
    content: str | list[dict[str, Any]] = ""
    finish_reason: str | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    role: str | None = None
    metadata: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return text_of(self.content)


class ToolStarted(BaseEvent):
    event: Literal["tool.started"] = "tool.started"
    session_id: str | None = None
    tool_call_id: str
    tool_name: str
    source_type: str | None = None
    input: Any = None
    retry_policy: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class ToolCompleted(BaseEvent):
    event: Literal["tool.completed"] = "tool.completed"
    session_id: str | None = None
    tool_call_id: str
    tool_name: str
    source_type: str | None = None
    output: Any = None
    retry_policy: dict[str, Any] | None = None
    duration_ms: float | None = None
    metadata: dict[str, Any] | None = None


class ToolFailed(BaseEvent):
    event: Literal["tool.failed"] = "tool.failed"
    session_id: str | None = None
    tool_call_id: str | None = None
    tool_name: str
    source_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    duration_ms: float | None = None
    metadata: dict[str, Any] | None = None


class AgentSwitchRequested(BaseEvent):
    event: Literal["agent.switch.requested"] = "agent.switch.requested"
    session_id: str | None = None
    from_agent: str | None = None
    to_agent: str | None = None


class AgentSwitched(BaseEvent):
    event: Literal["agent.switched"] = "agent.switched"
    session_id: str | None = None
    from_agent: str | None = None
    to_agent: str | None = None
    switch_count: int | None = None


class AgentDelegateStarted(BaseEvent):
    event: Literal["agent.delegate.started"] = "agent.delegate.started"
    session_id: str | None = None
    agent_name: str | None = None
    target_agent: str | None = None
    child_session_id: str | None = None
    child_run_id: str | None = None
    tool_use_id: str | None = None
    task_id: str | None = None
    resumed: bool | None = None


class AgentDelegateCompleted(BaseEvent):
    event: Literal["agent.delegate.completed"] = "agent.delegate.completed"
    session_id: str | None = None
    agent_name: str | None = None
    target_agent: str | None = None
    child_run_id: str | None = None
    child_status: str | None = None
    output: Any = None


class AgentDelegateFailed(BaseEvent):
    event: Literal["agent.delegate.failed"] = "agent.delegate.failed"
    session_id: str | None = None
    agent_name: str | None = None
    target_agent: str | None = None
    child_run_id: str | None = None
    child_status: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class HookNotice(BaseEvent):
    event: Literal["hook.notice"] = "hook.notice"
    session_id: str | None = None
    hook_name: str | None = None
    event_name: str | None = None
    handler_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class EngineLog(BaseEvent):
    event: Literal["engine.log"] = "engine.log"
    level: str | None = None
    category: str | None = None
    message: str = ""
    details: Any = None
    context: Any = None
    source: str | None = None
    timestamp: str | None = None


class RunCompleted(BaseEvent):
    event: Literal["run.completed"] = "run.completed"
    session_id: str | None = None
    status: str = "completed"


class RunFailed(BaseEvent):
    """The run failed (`status` "failed") or ran out of time (`status` "timed_out")."""

    event: Literal["run.failed"] = "run.failed"
    session_id: str | None = None
    status: str = "failed"
    error_code: str | None = None
    error_message: str | None = None


class RunCancelled(BaseEvent):
    event: Literal["run.cancelled"] = "run.cancelled"
    session_id: str | None = None
    status: str = "cancelled"


class UnknownEvent(BaseEvent):
    """An event this SDK has no model for (or whose payload did not fit it): `data` is the
    payload as sent."""

    data: dict[str, Any] = {}


KNOWN_EVENTS: tuple[type[BaseEvent], ...] = (
    RunQueued,
    QueueUpdated,
    RunStarted,
    MessageDelta,
    MessageCompleted,
    ToolStarted,
    ToolCompleted,
    ToolFailed,
    AgentSwitchRequested,
    AgentSwitched,
    AgentDelegateStarted,
    AgentDelegateCompleted,
    AgentDelegateFailed,
    HookNotice,
    EngineLog,
    RunCompleted,
    RunFailed,
    RunCancelled,
)
_NAMES = frozenset(cls.model_fields["event"].default for cls in KNOWN_EVENTS)
TERMINAL_EVENTS = (RunCompleted, RunFailed, RunCancelled)


def _tag(value: Any) -> str:
    name = value.get("event") if isinstance(value, dict) else getattr(value, "event", None)
    return name if isinstance(name, str) and name in _NAMES else "unknown"


Event = Annotated[
    Annotated[RunQueued, Tag("run.queued")]
    | Annotated[QueueUpdated, Tag("queue.updated")]
    | Annotated[RunStarted, Tag("run.started")]
    | Annotated[MessageDelta, Tag("message.delta")]
    | Annotated[MessageCompleted, Tag("message.completed")]
    | Annotated[ToolStarted, Tag("tool.started")]
    | Annotated[ToolCompleted, Tag("tool.completed")]
    | Annotated[ToolFailed, Tag("tool.failed")]
    | Annotated[AgentSwitchRequested, Tag("agent.switch.requested")]
    | Annotated[AgentSwitched, Tag("agent.switched")]
    | Annotated[AgentDelegateStarted, Tag("agent.delegate.started")]
    | Annotated[AgentDelegateCompleted, Tag("agent.delegate.completed")]
    | Annotated[AgentDelegateFailed, Tag("agent.delegate.failed")]
    | Annotated[HookNotice, Tag("hook.notice")]
    | Annotated[EngineLog, Tag("engine.log")]
    | Annotated[RunCompleted, Tag("run.completed")]
    | Annotated[RunFailed, Tag("run.failed")]
    | Annotated[RunCancelled, Tag("run.cancelled")]
    | Annotated[UnknownEvent, Tag("unknown")],
    Discriminator(_tag),
]
_EVENT: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(name: str, cursor: int, data: str) -> Event:
    """The typed event of one SSE frame (`event:`, `id:`, `data:`); never raises."""
    try:
        payload = json.loads(data) if data else {}
    except ValueError:
        payload = None
    if isinstance(payload, dict) and name in _NAMES:
        try:
            return _EVENT.validate_python({**payload, "event": name, "cursor": cursor})
        except ValidationError:
            pass  # a payload this SDK cannot read is still delivered, as it came
    if not isinstance(payload, dict):
        payload = {"raw": data}
    return UnknownEvent(event=name, cursor=cursor, run_id=_run_id(payload), data=payload)


def _run_id(payload: dict[str, Any]) -> str | None:
    value = payload.get("runId")
    return value if isinstance(value, str) else None


def is_run_end(event: Event, run_id: str | None = None) -> bool:
    """Whether `event` ends a run (that run, when `run_id` is given)."""
    return isinstance(event, TERMINAL_EVENTS) and (run_id is None or event.run_id == run_id)


def text_of(content: str | list[dict[str, Any]] | None) -> str:
    """The text of message content: a string, or the text parts of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
