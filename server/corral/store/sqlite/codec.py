"""Python values <-> SQLite column values, and rows -> records.

Timestamps are fixed-width ISO-8601 UTC text with microseconds and ``Z`` so that text order is
time order (indexes and keyset comparisons rely on it). JSON is compact text.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from ..records import (
    EventRecord,
    MessageRecord,
    PendingRunRecord,
    RunRecord,
    RunStepRecord,
    SessionRecord,
    WorkspaceRecord,
)

_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def ts(value: datetime) -> str:
    if value.tzinfo is None:
        # Guessing the zone of a naive datetime would silently misorder rows.
        raise ValueError(f"naive datetime given to the store: {value!r}")
    return value.astimezone(UTC).strftime(_TS_FORMAT)


def ts_opt(value: datetime | None) -> str | None:
    return None if value is None else ts(value)


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text)  # 3.11 reads the trailing Z as UTC


def parse_ts_opt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def dump_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def dump_json_opt(value: Any) -> str | None:
    return None if value is None else dump_json(value)


def load_json_opt(text: str | None) -> Any:
    return None if text is None else json.loads(text)


Row = sqlite3.Row

WORKSPACE_COLUMNS = (
    "id, name, runtime, root_path, external_ref, owner_id, service_name, execution_policy,"
    " status, kind, read_only, created_at, updated_at"
)


def workspace_values(r: WorkspaceRecord) -> tuple[Any, ...]:
    return (
        r.id,
        r.name,
        r.runtime,
        r.root_path,
        r.external_ref,
        r.owner_id,
        r.service_name,
        r.execution_policy,
        r.status,
        r.kind,
        int(r.read_only),
        ts(r.created_at),
        ts(r.updated_at),
    )


def workspace_from(row: Row) -> WorkspaceRecord:
    return WorkspaceRecord(
        id=row["id"],
        name=row["name"],
        runtime=row["runtime"],
        root_path=row["root_path"],
        external_ref=row["external_ref"],
        owner_id=row["owner_id"],
        service_name=row["service_name"],
        execution_policy=row["execution_policy"],
        status=row["status"],
        kind=row["kind"],
        read_only=bool(row["read_only"]),
        created_at=parse_ts(row["created_at"]),
        updated_at=parse_ts(row["updated_at"]),
    )


SESSION_COLUMNS = (
    "id, workspace_id, parent_session_id, subject_ref, model_ref, agent_name,"
    " active_agent_name, title, status, last_run_at, created_at, updated_at"
)


def session_values(r: SessionRecord) -> tuple[Any, ...]:
    return (
        r.id,
        r.workspace_id,
        r.parent_session_id,
        r.subject_ref,
        r.model_ref,
        r.agent_name,
        r.active_agent_name,
        r.title,
        r.status,
        ts_opt(r.last_run_at),
        ts(r.created_at),
        ts(r.updated_at),
    )


def session_from(row: Row) -> SessionRecord:
    return SessionRecord(
        id=row["id"],
        workspace_id=row["workspace_id"],
        parent_session_id=row["parent_session_id"],
        subject_ref=row["subject_ref"],
        model_ref=row["model_ref"],
        agent_name=row["agent_name"],
        active_agent_name=row["active_agent_name"],
        title=row["title"],
        status=row["status"],
        last_run_at=parse_ts_opt(row["last_run_at"]),
        created_at=parse_ts(row["created_at"]),
        updated_at=parse_ts(row["updated_at"]),
    )


MESSAGE_COLUMNS = "id, session_id, run_id, role, content, origin, mode, metadata, created_at"


def message_values(r: MessageRecord) -> tuple[Any, ...]:
    # content is always stored as JSON so a plain string and a parts list both round-trip.
    return (
        r.id,
        r.session_id,
        r.run_id,
        r.role,
        dump_json(r.content),
        r.origin,
        r.mode,
        dump_json_opt(r.metadata),
        ts(r.created_at),
    )


def message_from(row: Row) -> MessageRecord:
    return MessageRecord(
        id=row["id"],
        session_id=row["session_id"],
        run_id=row["run_id"],
        role=row["role"],
        content=json.loads(row["content"]),
        origin=row["origin"],
        mode=row["mode"],
        metadata=load_json_opt(row["metadata"]),
        created_at=parse_ts(row["created_at"]),
    )


RUN_COLUMNS = (
    "id, workspace_id, session_id, parent_run_id, initiator_ref, trigger_type, trigger_ref,"
    " agent_name, effective_agent_name, switch_count, status, cancel_requested_at, started_at,"
    " heartbeat_at, ended_at, created_at, error_code, error_message, metadata"
)


def run_values(r: RunRecord) -> tuple[Any, ...]:
    return (
        r.id,
        r.workspace_id,
        r.session_id,
        r.parent_run_id,
        r.initiator_ref,
        r.trigger_type,
        r.trigger_ref,
        r.agent_name,
        r.effective_agent_name,
        r.switch_count,
        r.status,
        ts_opt(r.cancel_requested_at),
        ts_opt(r.started_at),
        ts_opt(r.heartbeat_at),
        ts_opt(r.ended_at),
        ts(r.created_at),
        r.error_code,
        r.error_message,
        dump_json_opt(r.metadata),
    )


def run_from(row: Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        workspace_id=row["workspace_id"],
        session_id=row["session_id"],
        parent_run_id=row["parent_run_id"],
        initiator_ref=row["initiator_ref"],
        trigger_type=row["trigger_type"],
        trigger_ref=row["trigger_ref"],
        agent_name=row["agent_name"],
        effective_agent_name=row["effective_agent_name"],
        switch_count=row["switch_count"],
        status=row["status"],
        cancel_requested_at=parse_ts_opt(row["cancel_requested_at"]),
        started_at=parse_ts_opt(row["started_at"]),
        heartbeat_at=parse_ts_opt(row["heartbeat_at"]),
        ended_at=parse_ts_opt(row["ended_at"]),
        created_at=parse_ts(row["created_at"]),
        error_code=row["error_code"],
        error_message=row["error_message"],
        metadata=load_json_opt(row["metadata"]),
    )


STEP_COLUMNS = (
    "id, run_id, seq, step_type, name, agent_name, status, input, output, started_at, ended_at"
)


def step_values(r: RunStepRecord) -> tuple[Any, ...]:
    return (
        r.id,
        r.run_id,
        r.seq,
        r.step_type,
        r.name,
        r.agent_name,
        r.status,
        dump_json_opt(r.input),
        dump_json_opt(r.output),
        ts_opt(r.started_at),
        ts_opt(r.ended_at),
    )


def step_from(row: Row) -> RunStepRecord:
    return RunStepRecord(
        id=row["id"],
        run_id=row["run_id"],
        seq=row["seq"],
        step_type=row["step_type"],
        name=row["name"],
        agent_name=row["agent_name"],
        status=row["status"],
        input=load_json_opt(row["input"]),
        output=load_json_opt(row["output"]),
        started_at=parse_ts_opt(row["started_at"]),
        ended_at=parse_ts_opt(row["ended_at"]),
    )


PENDING_COLUMNS = "run_id, session_id, position, created_at"


def pending_from(row: Row) -> PendingRunRecord:
    return PendingRunRecord(
        run_id=row["run_id"],
        session_id=row["session_id"],
        position=row["position"],
        created_at=parse_ts(row["created_at"]),
    )


EVENT_COLUMNS = "id, session_id, cursor, run_id, event, data, created_at"


def event_from(row: Row) -> EventRecord:
    return EventRecord(
        id=row["id"],
        session_id=row["session_id"],
        cursor=row["cursor"],
        run_id=row["run_id"],
        event=row["event"],
        data=json.loads(row["data"]),
        created_at=parse_ts(row["created_at"]),
    )


def placeholders(columns: str) -> str:
    return ", ".join("?" for _ in columns.split(","))


def assignments(columns: str) -> str:
    """``a = ?, b = ?`` for every column but the leading id (UPDATE ... WHERE id = ?)."""
    names = [c.strip() for c in columns.split(",")][1:]
    return ", ".join(f"{n} = ?" for n in names)
