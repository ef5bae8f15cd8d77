"""A run's life on a worker, as units of work inside one write transaction each: claimed
(`queued` → `running`), kept alive by heartbeats, ended (and the session's next pending run
dispatched in the same write), and recovered when the process that ran it died.

Every change is written with the event that announces it (docs/contract.md#run-status,
docs/contract.md#events).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from corral import clock
from corral.core.runs import queue
from corral.core.runs.state import TERMINAL, check_transition
from corral.store import RunRecord, Tx

EXECUTING = ("running", "waiting_tool")
RecoveryPolicy = Literal["fail", "requeue_running"]


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def claim(tx: Tx, run_id: str, worker: dict[str, Any]) -> RunRecord | None:
    """Start a queued run that is its session's active one; None when it is not (any more)
    startable here: ended, pending behind another run, or claimed by another worker."""
    run = tx.get_run(run_id)
    if run is None or run.status != "queued" or run.cancel_requested_at is not None:
        return None
    if run.session_id is not None and any(
        p.run_id == run_id for p in tx.pending_runs(run.session_id)
    ):
        return None
    check_transition(run, "running")
    now = clock.now()
    started = replace(
        run,
        status="running",
        started_at=now,
        heartbeat_at=now,
        metadata={**(run.metadata or {}), "worker": worker},
    )
    tx.update_run(started)
    queue.mark(tx, started, "run.started", now)
    if run.session_id is not None:
        session = tx.get_session(run.session_id)
        if session is not None:
            tx.update_session(replace(session, last_run_at=now))
        queue.emit(tx, started, "run.started", sessionId=run.session_id, status="running")
    return started


@dataclass(frozen=True, slots=True)
class Ending:
    status: Literal["completed", "failed", "cancelled", "timed_out"]
    error_code: str | None = None
    error_message: str | None = None
    metadata: dict[str, Any] | None = None  # merged into the run's metadata
    details: Any = None  # recorded on the closing system step
    prelude: Callable[[Tx], None] | None = None  # the run's last changes, written with its end


def finish(tx: Tx, run_id: str, ending: Ending) -> RunRecord | None:
    """End a run and hand its session's slot to the next pending run. Idempotent: a run that
    already ended (or vanished with its session) is returned as it is."""
    run = tx.get_run(run_id)
    if run is None or run.status in TERMINAL:
        return run
    check_transition(run, ending.status)
    if ending.prelude is not None:
        ending.prelude(tx)
    now = clock.now()
    ended = replace(
        run,
        status=ending.status,
        ended_at=now,
        heartbeat_at=now,
        error_code=ending.error_code,
        error_message=ending.error_message,
        metadata={**(run.metadata or {}), **(ending.metadata or {})},
    )
    tx.update_run(ended)
    queue.mark(tx, ended, f"run.{ending.status}", now, ending.details)
    if run.session_id is not None:
        if ended.status == "completed" and ended.switch_count:
            _hand_session_over(tx, ended)
        _announce_end(tx, ended)
        queue.dispatch_next(tx, run.session_id)
    return ended


def _hand_session_over(tx: Tx, run: RunRecord) -> None:
    """An AgentSwitch is the session's from the moment its run completes: the next message
    is answered by the agent the run ended with (docs/contract.md#agent-switch). A run that did
    not complete leaves the session's agent as it was."""
    assert run.session_id is not None
    session = tx.get_session(run.session_id)
    if session is not None and session.active_agent_name != run.effective_agent_name:
        tx.update_session(
            replace(session, active_agent_name=run.effective_agent_name, updated_at=clock.now())
        )


def _announce_end(tx: Tx, run: RunRecord) -> None:
    if run.status == "completed":
        queue.emit(tx, run, "run.completed", sessionId=run.session_id, status="completed")
    elif run.status == "cancelled":
        queue.emit(tx, run, "run.cancelled", sessionId=run.session_id, status="cancelled")
    else:
        queue.emit(
            tx,
            run,
            "run.failed",
            sessionId=run.session_id,
            status=run.status,
            errorCode=run.error_code,
            errorMessage=run.error_message,
        )


def heartbeat(tx: Tx, run_ids: list[str]) -> set[str]:
    """Refresh the heartbeat of executing runs; returns those asked to cancel meanwhile
    (a cancel request written by another process reaches the worker this way)."""
    now, cancel_requested = clock.now(), set()
    for run_id in run_ids:
        run = tx.get_run(run_id)
        if run is None or run.status not in EXECUTING:
            cancel_requested.add(run_id)  # gone or ended elsewhere: stop executing it
            continue
        tx.update_run(replace(run, heartbeat_at=now))
        if run.cancel_requested_at is not None:
            cancel_requested.add(run_id)
    return cancel_requested


def recover_stale(
    tx: Tx,
    stale_before: datetime,
    policy: RecoveryPolicy,
    max_attempts: int,
    exclude: Collection[str] = (),
    ended: Callable[[Any], bool] = lambda worker: False,
) -> list[RunRecord]:
    """Runs left executing by a dead process are failed, or requeued under `requeue_running`
    (at most `max_attempts` times; never a `system` run such as a compaction, which no worker
    can execute); returns the runs that were requeued. A process is dead when its runs' heartbeat
    is older than `stale_before`, or when `ended(metadata.worker)` says so. Runs this process is
    executing (`exclude`) are alive whatever their heartbeat says. A SubAgent's child run is
    never requeued either: only its parent's tool call executes it (core/agent/delegation.py)."""
    requeued = []
    for run in tx.runs_by_status(EXECUTING, 10_000):
        if run.id in exclude:
            continue
        beat = run.heartbeat_at or run.started_at or run.created_at
        if beat < stale_before:
            reason = "heartbeat_stale"
        elif ended((run.metadata or {}).get("worker")):
            reason = "worker_exited"
        else:
            continue
        attempts = int((run.metadata or {}).get("recoveryAttempts", 0))
        if policy == "fail" or queue.requeue_refusal(run) is not None:
            _fail_stale(tx, run, "failed", reason, attempts, beat, policy)
        elif attempts >= max_attempts:
            _fail_stale(tx, run, "quarantined", reason, attempts, beat, policy)
        else:
            requeued.append(_requeue_stale(tx, run, reason, attempts + 1, beat))
    return requeued


def _recovery(
    state: str, reason: str, run: RunRecord, beat: datetime, policy: str
) -> dict[str, Any]:
    return {
        "state": state,
        "recoveredBy": "stale_run_recovery",
        "reason": reason,
        "strategy": policy,
        "previousStatus": run.status,
        "lastHeartbeatAt": _iso(beat),
        "recoveredAt": _iso(clock.now()),
    }


def _requeue_stale(tx: Tx, run: RunRecord, reason: str, attempt: int, beat: datetime) -> RunRecord:
    recovery = _recovery("requeued", reason, run, beat, "requeue_running")
    queued = replace(
        run,
        status="queued",
        started_at=None,
        heartbeat_at=None,
        ended_at=None,
        cancel_requested_at=None,
        error_code=None,
        error_message=None,
        metadata={**(run.metadata or {}), "recovery": recovery, "recoveryAttempts": attempt},
    )
    tx.update_run(queued)
    queue.mark(tx, queued, "run.requeued", clock.now(), {"previousStatus": run.status})
    if run.session_id is not None:
        queue.emit(
            tx,
            queued,
            "run.queued",
            sessionId=run.session_id,
            status="queued",
            recoveredBy="stale_run_recovery",
            recoveryAttempt=attempt,
            recoveryState="requeued",
            recoveryReason=reason,
            recoveryStrategy="requeue_running",
            previousStatus=run.status,
        )
    return queued


def _fail_stale(
    tx: Tx, run: RunRecord, state: str, reason: str, attempts: int, beat: datetime, policy: str
) -> None:
    ending = Ending(
        "failed",
        error_code="run_recovery_failed",
        error_message=f"the process executing this run stopped (last heartbeat {_iso(beat)})",
        metadata={
            "recovery": _recovery(state, reason, run, beat, policy),
            "recoveryAttempts": attempts,
        },
    )
    finish(tx, run.id, ending)
