"""Records <-> SQL rows, for every SQL backend.

The column lists and the order of values are the same everywhere; how one scalar travels differs
(SQLite keeps timestamps as sortable text and JSON as text, PostgreSQL as ``timestamptz`` and
``json``), so a backend's codec overrides only the scalar conversions: ``ts``/``parse_ts``,
``json``/``load_json`` and ``flag``. Rows are read by column name.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from ..records import (
    EventRecord,
    MessageRecord,
    PendingRunRecord,
    RunRecord,
    RunStepRecord,
    SessionRecord,
    WorkspaceRecord,
)


class Row(Protocol):
    """A fetched row, read by column name (``sqlite3.Row``, psycopg's ``dict_row``)."""

    def __getitem__(self, key: str, /) -> Any: ...


def dump_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        # Guessing the zone of a naive datetime would silently misorder rows.
        raise ValueError(f"naive datetime given to the store: {value!r}")
    return value


WORKSPACE_COLUMNS = (
    "id, name, runtime, root_path, external_ref, owner_id, service_name, execution_policy,"
    " status, kind, read_only, created_at, updated_at"
)
SESSION_COLUMNS = (
    "id, workspace_id, parent_session_id, subject_ref, model_ref, agent_name,"
    " active_agent_name, title, status, last_run_at, created_at, updated_at"
)
MESSAGE_COLUMNS = "id, session_id, run_id, role, content, origin, mode, metadata, created_at"
RUN_COLUMNS = (
    "id, workspace_id, session_id, parent_run_id, initiator_ref, trigger_type, trigger_ref,"
    " agent_name, effective_agent_name, switch_count, status, cancel_requested_at, started_at,"
    " heartbeat_at, ended_at, created_at, error_code, error_message, metadata"
)
STEP_COLUMNS = (
    "id, run_id, seq, step_type, name, agent_name, status, input, output, started_at, ended_at"
)
PENDING_COLUMNS = "run_id, session_id, position, created_at"
EVENT_COLUMNS = "id, session_id, cursor, run_id, event, data, created_at"


def placeholders(columns: str) -> str:
    return ", ".join("?" for _ in columns.split(","))


def assignments(columns: str) -> str:
    """``a = ?, b = ?`` for every column but the leading id (UPDATE ... WHERE id = ?)."""
    names = [c.strip() for c in columns.split(",")][1:]
    return ", ".join(f"{n} = ?" for n in names)


class RecordCodec:
    """The scalar conversions of one backend, and the records built on them."""

    __slots__ = ()

    # -- scalars (a backend overrides these) -----------------------------------------

    def ts(self, value: datetime) -> Any:
        raise NotImplementedError

    def parse_ts(self, value: Any) -> datetime:
        raise NotImplementedError

    def json(self, value: Any) -> Any:
        raise NotImplementedError

    def load_json(self, value: Any) -> Any:
        raise NotImplementedError

    def flag(self, value: bool) -> Any:
        return value

    def ts_opt(self, value: datetime | None) -> Any:
        return None if value is None else self.ts(value)

    def parse_ts_opt(self, value: Any) -> datetime | None:
        return None if value is None else self.parse_ts(value)

    def json_opt(self, value: Any) -> Any:
        return None if value is None else self.json(value)

    def load_json_opt(self, value: Any) -> Any:
        return None if value is None else self.load_json(value)

    # -- records ----------------------------------------------------------------------

    def workspace_values(self, r: WorkspaceRecord) -> tuple[Any, ...]:
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
            self.flag(r.read_only),
            self.ts(r.created_at),
            self.ts(r.updated_at),
        )

    def workspace_from(self, row: Row) -> WorkspaceRecord:
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
            created_at=self.parse_ts(row["created_at"]),
            updated_at=self.parse_ts(row["updated_at"]),
        )

    def session_values(self, r: SessionRecord) -> tuple[Any, ...]:
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
            self.ts_opt(r.last_run_at),
            self.ts(r.created_at),
            self.ts(r.updated_at),
        )

    def session_from(self, row: Row) -> SessionRecord:
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
            last_run_at=self.parse_ts_opt(row["last_run_at"]),
            created_at=self.parse_ts(row["created_at"]),
            updated_at=self.parse_ts(row["updated_at"]),
        )

    def message_values(self, r: MessageRecord) -> tuple[Any, ...]:
        # content is always stored as JSON so a plain string and a parts list both round-trip.
        return (
            r.id,
            r.session_id,
            r.run_id,
            r.role,
            self.json(r.content),
            r.origin,
            r.mode,
            self.json_opt(r.metadata),
            self.ts(r.created_at),
        )

    def message_from(self, row: Row) -> MessageRecord:
        return MessageRecord(
            id=row["id"],
            session_id=row["session_id"],
            run_id=row["run_id"],
            role=row["role"],
            content=self.load_json(row["content"]),
            origin=row["origin"],
            mode=row["mode"],
            metadata=self.load_json_opt(row["metadata"]),
            created_at=self.parse_ts(row["created_at"]),
        )

    def run_values(self, r: RunRecord) -> tuple[Any, ...]:
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
            self.ts_opt(r.cancel_requested_at),
            self.ts_opt(r.started_at),
            self.ts_opt(r.heartbeat_at),
            self.ts_opt(r.ended_at),
            self.ts(r.created_at),
            r.error_code,
            r.error_message,
            self.json_opt(r.metadata),
        )

    def run_from(self, row: Row) -> RunRecord:
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
            cancel_requested_at=self.parse_ts_opt(row["cancel_requested_at"]),
            started_at=self.parse_ts_opt(row["started_at"]),
            heartbeat_at=self.parse_ts_opt(row["heartbeat_at"]),
            ended_at=self.parse_ts_opt(row["ended_at"]),
            created_at=self.parse_ts(row["created_at"]),
            error_code=row["error_code"],
            error_message=row["error_message"],
            metadata=self.load_json_opt(row["metadata"]),
        )

    def step_values(self, r: RunStepRecord) -> tuple[Any, ...]:
        return (
            r.id,
            r.run_id,
            r.seq,
            r.step_type,
            r.name,
            r.agent_name,
            r.status,
            self.json_opt(r.input),
            self.json_opt(r.output),
            self.ts_opt(r.started_at),
            self.ts_opt(r.ended_at),
        )

    def step_from(self, row: Row) -> RunStepRecord:
        return RunStepRecord(
            id=row["id"],
            run_id=row["run_id"],
            seq=row["seq"],
            step_type=row["step_type"],
            name=row["name"],
            agent_name=row["agent_name"],
            status=row["status"],
            input=self.load_json_opt(row["input"]),
            output=self.load_json_opt(row["output"]),
            started_at=self.parse_ts_opt(row["started_at"]),
            ended_at=self.parse_ts_opt(row["ended_at"]),
        )

    def pending_from(self, row: Row) -> PendingRunRecord:
        return PendingRunRecord(
            run_id=row["run_id"],
            session_id=row["session_id"],
            position=row["position"],
            created_at=self.parse_ts(row["created_at"]),
        )

    def event_values(self, r: EventRecord) -> tuple[Any, ...]:
        return (
            r.id,
            r.session_id,
            r.cursor,
            r.run_id,
            r.event,
            self.json(r.data),
            self.ts(r.created_at),
        )

    def event_from(self, row: Row) -> EventRecord:
        return EventRecord(
            id=row["id"],
            session_id=row["session_id"],
            cursor=row["cursor"],
            run_id=row["run_id"],
            event=row["event"],
            data=self.load_json(row["data"]),
            created_at=self.parse_ts(row["created_at"]),
        )
