"""Plain records the store reads and writes.

Fields are snake_case Python values: aware UTC ``datetime``s, ``dict``/``list`` for JSON
columns, ``bool`` for flags. Records are keyword-only so that optional fields can carry
defaults wherever they sit in the column order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

JsonObject = dict[str, Any]

# Keyset position of a message within its session: (created_at, id).
MessageKey = tuple[datetime, str]


@dataclass(slots=True, kw_only=True)
class WorkspaceRecord:
    id: str
    name: str
    root_path: str
    created_at: datetime
    updated_at: datetime
    runtime: str | None = None
    external_ref: str | None = None
    owner_id: str | None = None
    service_name: str | None = None
    execution_policy: str = "local"
    status: str = "active"
    kind: str = "project"
    read_only: bool = False


@dataclass(slots=True, kw_only=True)
class SessionRecord:
    id: str
    workspace_id: str
    subject_ref: str
    active_agent_name: str
    created_at: datetime
    updated_at: datetime
    parent_session_id: str | None = None
    model_ref: str | None = None
    agent_name: str | None = None
    title: str | None = None
    status: str = "active"
    last_run_at: datetime | None = None


@dataclass(slots=True, kw_only=True)
class MessageRecord:
    id: str
    session_id: str
    role: str
    content: str | list[Any]
    created_at: datetime
    run_id: str | None = None
    origin: str | None = None
    mode: str | None = None
    metadata: JsonObject | None = None

    @property
    def key(self) -> MessageKey:
        return (self.created_at, self.id)


@dataclass(slots=True, kw_only=True)
class RunRecord:
    id: str
    workspace_id: str
    trigger_type: str
    effective_agent_name: str
    status: str
    created_at: datetime
    session_id: str | None = None
    parent_run_id: str | None = None
    initiator_ref: str | None = None
    trigger_ref: str | None = None
    agent_name: str | None = None
    switch_count: int = 0
    cancel_requested_at: datetime | None = None
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    ended_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None
    metadata: JsonObject | None = None


@dataclass(slots=True, kw_only=True)
class RunStepRecord:
    id: str
    run_id: str
    seq: int
    step_type: str
    status: str
    name: str | None = None
    agent_name: str | None = None
    input: Any = None
    output: Any = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(slots=True, kw_only=True)
class PendingRunRecord:
    """An entry of a session's pending queue, positions 1..n (docs/contract.md#session-queue)."""

    run_id: str
    session_id: str
    position: int
    created_at: datetime


@dataclass(slots=True, kw_only=True)
class EventRecord:
    """A durable session event (the outbox); ``cursor`` is contiguous per session from 1."""

    id: str
    cursor: int
    session_id: str
    event: str
    data: JsonObject
    created_at: datetime
    run_id: str | None = None
