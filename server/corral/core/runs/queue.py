"""The session queue (docs/contract.md#session-queue), applied to stored state inside one write
transaction.

Every function here takes the transaction (`Tx`) and writes the state change together with the
events that announce it, so readers never see one without the other. A session's *active* run
is a queued/running/waiting_tool run that is not in the pending queue and has no cancel request;
pending runs wait in `session_pending_runs` until the active one ends.

Queued runs have no worker to notice a cancel request before the runtime executes them, so
cancelling a queued run ends it at once; a running run gets `cancelRequestedAt` and its worker
ends it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from corral import clock
from corral.core.runs.state import TERMINAL
from corral.errors import CorralError
from corral.store import MessageRecord, RunRecord, Tx


def content_text(content: str | list[Any]) -> str:
    """The display string of a message: its text, or its text parts joined."""
    if isinstance(content, str):
        return content
    texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
    return "\n".join(t for t in texts if t) or "[attachment]"


def queue_items(tx: Tx, session_id: str) -> list[dict[str, Any]]:
    items = []
    for entry in tx.pending_runs(session_id):
        run = tx.get_run(entry.run_id)
        msg = tx.get_message(session_id, run.trigger_ref) if run and run.trigger_ref else None
        items.append(
            {
                "runId": entry.run_id,
                "messageId": msg.id if msg else (run.trigger_ref if run else "") or "",
                "content": content_text(msg.content) if msg else "",
                "createdAt": entry.created_at.isoformat().replace("+00:00", "Z"),
                "position": entry.position,
            }
        )
    return items


def emit(tx: Tx, run: RunRecord, event: str, **data: Any) -> None:
    assert run.session_id is not None
    tx.append_event(run.session_id, run.id, event, {"runId": run.id, **data}, clock.now())


def emit_queue(tx: Tx, session_id: str, run_id: str, action: str, **extra: Any) -> None:
    data = {"runId": run_id, "action": action, "items": queue_items(tx, session_id), **extra}
    tx.append_event(session_id, run_id, "queue.updated", data, clock.now())


def _occupied(tx: Tx, session_id: str, besides: str | None = None) -> bool:
    """Whether a run of the session holds its single execution slot: queued to run next, or
    still executing even if asked to cancel (runs of a session never overlap)."""
    live = tx.active_runs(session_id, include_cancel_requested=True)
    return any(r.id != besides for r in live)


def mark(tx: Tx, run: RunRecord, name: str, at: datetime, details: Any = None) -> None:
    """A `system` step recording a lifecycle moment of the run (docs/contract.md#step-names)."""
    tx.append_step(
        run.id,
        step_type="system",
        status="completed",
        name=name,
        input=details,
        started_at=at,
        ended_at=at,
    )


@dataclass(frozen=True, slots=True)
class Delivery:
    kind: str  # active_run | session_queue
    position: int | None


def submit(tx: Tx, run: RunRecord, message: MessageRecord, interrupt: bool) -> Delivery:
    """Store a new message run and place it: run it next, queue it, or interrupt for it."""
    return place(tx, run, interrupt, message)


def place(
    tx: Tx, run: RunRecord, interrupt: bool = False, message: MessageRecord | None = None
) -> Delivery:
    """Store a new run of a session (with the message that triggers it, if any) and place it."""
    assert run.session_id is not None
    session_id = run.session_id
    busy = _occupied(tx, session_id) or bool(tx.pending_runs(session_id))
    tx.insert_run(run)
    if message is not None:
        tx.insert_message(message)
    emit(tx, run, "run.queued", sessionId=session_id, status="queued")
    if not busy:
        return Delivery("active_run", None)
    position = tx.enqueue_pending(session_id, run.id, run.created_at)
    if not interrupt:
        emit_queue(tx, session_id, run.id, "enqueued", queuedPosition=position)
        return Delivery("session_queue", position)
    tx.promote_pending(session_id, run.id)
    emit_queue(tx, session_id, run.id, "promoted", queuedPosition=1)
    preempt(tx, session_id)
    still_pending = any(p.run_id == run.id for p in tx.pending_runs(session_id))
    return Delivery("session_queue", 1) if still_pending else Delivery("active_run", None)


def preempt(tx: Tx, session_id: str) -> None:
    """Make room for the pending head: request cancellation of what is active, then dispatch
    if nothing is left executing (a running run ends first; its worker dispatches then)."""
    for run in tx.active_runs(session_id):
        cancel(tx, run)
    dispatch_next(tx, session_id)


def cancel(tx: Tx, run: RunRecord) -> None:
    """Cancel a run: ended at once while queued, requested of its worker while running."""
    if run.status in TERMINAL or run.cancel_requested_at is not None:
        return
    now = clock.now()
    if run.status != "queued":
        tx.update_run(replace(run, cancel_requested_at=now))
        return
    assert run.session_id is not None
    was_pending = tx.remove_pending(run.session_id, run.id)
    ended = replace(run, status="cancelled", cancel_requested_at=now, ended_at=now)
    tx.update_run(ended)
    mark(tx, run, "run.cancelled", now)
    if was_pending:
        emit_queue(tx, run.session_id, run.id, "removed")
    emit(tx, ended, "run.cancelled", sessionId=run.session_id, status="cancelled")
    if not was_pending:
        dispatch_next(tx, run.session_id)


def dispatch_next(tx: Tx, session_id: str) -> RunRecord | None:
    """When a session has no run executing or waiting to, its pending head becomes active."""
    if _occupied(tx, session_id):
        return None
    entry = tx.pop_pending(session_id)
    if entry is None:
        return None
    run = tx.get_run(entry.run_id)
    if run is None:
        return dispatch_next(tx, session_id)
    if run.trigger_ref:
        # the transcript follows execution order: the message counts from its dispatch
        tx.restamp_message(run.trigger_ref, clock.now())
    emit_queue(tx, session_id, run.id, "dequeued")
    return run


def guide(tx: Tx, run: RunRecord) -> None:
    """Move a pending message run to the head to run next (docs/contract.md#session-queue)."""
    assert run.session_id is not None
    if not tx.promote_pending(run.session_id, run.id):
        return  # a message run that is not pending: nothing to do
    emit_queue(tx, run.session_id, run.id, "promoted", queuedPosition=1)
    preempt(tx, run.session_id)


REQUEUABLE = frozenset({"failed", "timed_out"})


def requeue_refusal(run: RunRecord) -> str | None:
    """Why this run can never run again from the queue (None: it can). Manual requeue and
    stale-run recovery both ask."""
    if run.session_id is None:
        return f"run {run.id} has no session"
    if run.trigger_type == "system":  # a compaction: no worker executes it, compact again
        return f"run {run.id} is a system run"
    if run.parent_run_id is not None:  # only its parent's SubAgent call executes a child run
        return f"run {run.id} is a subagent run; requeue its parent {run.parent_run_id} instead"
    return None


def requeue(tx: Tx, run: RunRecord, requested_by: str) -> str:
    """Put a failed or timed-out run back in its session's queue; returns its previous status."""
    if run.status not in REQUEUABLE:
        raise CorralError(
            "run_requeue_invalid_status",
            f"only failed or timed_out runs can be requeued; run {run.id} is {run.status}",
            {"runId": run.id, "status": run.status},
        )
    if (refusal := requeue_refusal(run)) is not None:
        raise CorralError("run_requeue_not_supported", refusal)
    assert run.session_id is not None  # refused above otherwise
    previous, now = run.status, clock.now()
    metadata = dict(run.metadata or {})
    attempts = int(metadata.get("recoveryAttempts", 0)) + 1
    recovery = {
        "state": "requeued",
        "recoveredBy": "manual_operator_requeue",
        "previousStatus": previous,
        "requestedBy": requested_by,
        "requestedAt": now.isoformat().replace("+00:00", "Z"),
    }
    metadata.update(recovery=recovery, recoveryAttempts=attempts)
    queued = replace(
        run,
        status="queued",
        started_at=None,
        heartbeat_at=None,
        ended_at=None,
        cancel_requested_at=None,
        error_code=None,
        error_message=None,
        metadata=metadata,
    )
    tx.update_run(queued)
    mark(tx, run, "run.requeued", now, {"previousStatus": previous})
    emit(
        tx,
        queued,
        "run.queued",
        sessionId=run.session_id,
        status="queued",
        recoveredBy="manual_operator_requeue",
        recoveryAttempt=attempts,
        recoveryState="requeued",
        previousStatus=previous,
        requestedBy=requested_by,
    )
    if _occupied(tx, run.session_id, besides=run.id) or tx.pending_runs(run.session_id):
        tx.enqueue_pending(run.session_id, run.id, now)
        emit_queue(tx, run.session_id, run.id, "enqueued")
    return previous
