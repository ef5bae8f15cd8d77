"""The run status machine (docs/contract.md#run-status): which status may follow which."""

from __future__ import annotations

from corral.errors import CorralError
from corral.store import RunRecord

TERMINAL = frozenset({"completed", "failed", "cancelled", "timed_out"})
_EXECUTING = frozenset({"running", "waiting_tool", "completed", "failed", "cancelled", "timed_out"})
_NEXT: dict[str, frozenset[str]] = {
    "queued": frozenset({"running", "cancelled", "failed"}),
    "running": _EXECUTING,
    "waiting_tool": _EXECUTING,
}


def can_transition(current: str, target: str) -> bool:
    """Staying in a status is allowed; terminal statuses lead nowhere (requeue and recovery
    write `queued` themselves, outside this machine)."""
    return current == target or target in _NEXT.get(current, frozenset())


def check_transition(run: RunRecord, target: str) -> None:
    if not can_transition(run.status, target):
        raise CorralError(
            "invalid_run_transition",
            f"run {run.id} cannot go from {run.status} to {target}",
            {"runId": run.id, "from": run.status, "to": target},
        )
