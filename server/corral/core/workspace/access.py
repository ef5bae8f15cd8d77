"""Loading resources on behalf of a caller: 404 when missing, 403 outside the caller's reach.

Session and run reads are guarded by their workspace too (OAH leaves them open), so a token
limited to some workspaces cannot read another workspace's conversations by id.
"""

from __future__ import annotations

from corral.caller import Caller
from corral.errors import CorralError
from corral.store import RunRecord, SessionRecord, Tx, WorkspaceRecord


def workspace(tx: Tx, caller: Caller, workspace_id: str) -> WorkspaceRecord:
    rec = tx.get_workspace(workspace_id)
    if rec is None:
        raise CorralError.not_found("workspace_not_found", "workspace", workspace_id)
    caller.require_workspace(rec.id)
    return rec


def session(tx: Tx, caller: Caller, session_id: str) -> SessionRecord:
    rec = tx.get_session(session_id)
    if rec is None:
        raise CorralError.not_found("session_not_found", "session", session_id)
    caller.require_workspace(rec.workspace_id)
    return rec


def run(tx: Tx, caller: Caller, run_id: str) -> RunRecord:
    rec = tx.get_run(run_id)
    if rec is None:
        raise CorralError.not_found("run_not_found", "run", run_id)
    caller.require_workspace(rec.workspace_id)
    return rec
