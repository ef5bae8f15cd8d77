"""The run status machine (docs/contract.md#run-status)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from corral.core.runs.state import TERMINAL, can_transition, check_transition
from corral.errors import CorralError
from corral.store import RunRecord

STATUSES = ["queued", "running", "waiting_tool", "completed", "failed", "cancelled", "timed_out"]
ALLOWED = {
    ("queued", "running"),
    ("queued", "cancelled"),
    ("queued", "failed"),
    *{
        (a, b)
        for a in ("running", "waiting_tool")
        for b in ("running", "waiting_tool", "completed", "failed", "cancelled", "timed_out")
    },
    *{(s, s) for s in STATUSES},
}


@pytest.mark.parametrize("current", STATUSES)
@pytest.mark.parametrize("target", STATUSES)
def test_transitions_follow_the_contract(current: str, target: str) -> None:
    assert can_transition(current, target) == ((current, target) in ALLOWED)


def test_terminal_statuses_lead_nowhere_else() -> None:
    for status in TERMINAL:
        assert [t for t in STATUSES if can_transition(status, t)] == [status]


def test_an_illegal_transition_is_a_409() -> None:
    run = RunRecord(
        id="run_1",
        workspace_id="ws_1",
        trigger_type="message",
        effective_agent_name="assistant",
        status="completed",
        created_at=datetime.now(UTC),
    )
    with pytest.raises(CorralError) as raised:
        check_transition(run, "running")
    assert raised.value.status == 409 and raised.value.code == "invalid_run_transition"
    assert raised.value.details == {"runId": "run_1", "from": "completed", "to": "running"}
