"""Record builders for the store tests (a unique module name: tests/ has no packages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from corral.store import MessageRecord, RunRecord, SessionRecord, WorkspaceRecord

T0 = datetime(2026, 11, 23, 16, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def workspace(ws_id: str = "ws_1", *, t: float = 0, **kw: Any) -> WorkspaceRecord:
    return WorkspaceRecord(
        id=ws_id, name=ws_id, root_path=f"/w/{ws_id}", created_at=at(t), updated_at=at(t), **kw
    )


def session(
    ses_id: str = "ses_1", ws_id: str = "ws_1", *, t: float = 0, **kw: Any
) -> SessionRecord:
    return SessionRecord(
        id=ses_id,
        workspace_id=ws_id,
        subject_ref="user:alice",
        active_agent_name="assistant",
        created_at=at(t),
        updated_at=at(t),
        **kw,
    )


def message(
    msg_id: str, ses_id: str = "ses_1", *, t: float = 0, content: Any = "hi", **kw: Any
) -> MessageRecord:
    return MessageRecord(
        id=msg_id, session_id=ses_id, role="user", content=content, created_at=at(t), **kw
    )


def run(
    run_id: str,
    ses_id: str | None = "ses_1",
    ws_id: str = "ws_1",
    *,
    t: float = 0,
    status: str = "queued",
    **kw: Any,
) -> RunRecord:
    return RunRecord(
        id=run_id,
        workspace_id=ws_id,
        session_id=ses_id,
        trigger_type="message",
        effective_agent_name="assistant",
        status=status,
        created_at=at(t),
        **kw,
    )
