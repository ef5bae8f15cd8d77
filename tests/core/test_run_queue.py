"""The session queue (docs/contract.md#session-queue) on a real SQLite store, driven by the
functions the server itself calls: `queue.submit`, `cancel`, `guide` and `requeue` as the API
does, `lifecycle.claim` and `lifecycle.finish` as a worker does. So every history asserted here
is one the server writes, down to the last event.

A session's single execution slot is held by its active run, queued or running, including a
running run asked to cancel: it keeps executing until its worker ends it, so the next run is
dispatched only then and runs of a session never overlap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal

import pytest
import pytest_asyncio

from corral import clock
from corral.core.runs import lifecycle, queue
from corral.core.runs.lifecycle import Ending
from corral.errors import CorralError
from corral.store import MessageRecord, RunRecord, SessionRecord, Tx, WorkspaceRecord
from corral.store.sqlite import SqliteStore

SES = "ses_1"
OTHER = "ses_2"
WORKER = {"id": "wrk_test", "kind": "embedded"}
COMPLETED = Ending("completed")
CANCELLED = Ending("cancelled")  # how a worker ends a run asked to cancel (core/runs/executor.py)


class Session:
    """One session of a real store, driven through the queue and the run lifecycle inside
    write transactions.

    Runs and their messages are numbered: send(3) creates run_3 triggered by msg_3.
    """

    def __init__(self, store: SqliteStore, session_id: str = SES) -> None:
        self.store = store
        self.id = session_id
        self.seen = 0  # cursor of the last event returned by events()
        self.queue: dict[str, Any] | None = None

    async def send(self, n: int, *, interrupt: bool = False) -> queue.Delivery:
        def fn(tx: Tx) -> queue.Delivery:
            now = clock.now()
            run = RunRecord(
                id=f"run_{n}",
                workspace_id="ws_1",
                session_id=self.id,
                status="queued",
                trigger_type="message",
                trigger_ref=f"msg_{n}",
                agent_name="assistant",
                effective_agent_name="assistant",
                initiator_ref="user:alice",
                created_at=now,
            )
            message = MessageRecord(
                id=f"msg_{n}",
                session_id=self.id,
                run_id=run.id,
                role="user",
                content=f"m{n}",
                origin="user",
                mode="prompt",
                created_at=now,
            )
            return queue.submit(tx, run, message, interrupt)

        return await self.store.write(fn)

    async def apply(self, n: int, action: Callable[[Tx, RunRecord], Any]) -> Any:
        """Runs action(tx, run_n) in one write transaction."""

        def fn(tx: Tx) -> Any:
            run = tx.get_run(f"run_{n}")
            assert run is not None
            return action(tx, run)

        return await self.store.write(fn)

    async def cancel(self, n: int) -> None:
        await self.apply(n, queue.cancel)

    async def guide(self, n: int) -> None:
        await self.apply(n, queue.guide)

    async def claim(self, n: int) -> RunRecord | None:
        """What a worker does to start run_n: None when the run is not startable."""
        return await self.apply(n, lambda tx, run: lifecycle.claim(tx, run.id, WORKER))

    async def end(self, n: int, ending: Ending = COMPLETED) -> None:
        """What a worker does when run_n ends: its outcome stored and announced, and the
        session's next pending run dispatched, in one write."""
        ended = await self.apply(n, lambda tx, run: lifecycle.finish(tx, run.id, ending))
        assert ended is not None and ended.status == ending.status

    async def run(self, n: int) -> RunRecord:
        run = await self.store.read(lambda tx: tx.get_run(f"run_{n}"))
        assert run is not None
        return run

    async def message_time(self, n: int) -> Any:
        msg = await self.store.read(lambda tx: tx.get_message(self.id, f"msg_{n}"))
        assert msg is not None
        return msg.created_at

    async def pending(self) -> list[str]:
        entries = await self.store.read(lambda tx: tx.pending_runs(self.id))
        assert [e.position for e in entries] == list(range(1, len(entries) + 1))
        return [e.run_id for e in entries]

    async def active(self) -> list[str]:
        runs = await self.store.read(lambda tx: tx.active_runs(self.id))
        return [r.id for r in runs]

    async def events(self) -> list[str]:
        """The events since the last call, as `event` or `queue.updated:action` of `run_id`;
        checks that their cursors continue the previous ones with no gap."""
        events = await self.store.read(lambda tx: tx.list_events(self.id, self.seen, 1000))
        assert [e.cursor for e in events] == list(range(self.seen + 1, self.seen + 1 + len(events)))
        self.seen += len(events)
        self.queue = next((e.data for e in reversed(events) if e.event == "queue.updated"), None)
        return [_label(e.event, e.data) for e in events]

    def queue_items(self) -> list[tuple[str, int, str]]:
        """The queue as the last queue.updated event returned by events() announced it."""
        assert self.queue is not None
        return [(i["runId"], i["position"], i["content"]) for i in self.queue["items"]]


def _label(event: str, data: dict[str, Any]) -> str:
    run = data["runId"].removeprefix("run_")
    if event == "queue.updated":
        return f"{event}:{data['action']} {run}"
    return f"{event} {run}"


def active_run() -> queue.Delivery:
    return queue.Delivery("active_run", None)


def queued_at(position: int) -> queue.Delivery:
    return queue.Delivery("session_queue", position)


@pytest_asyncio.fixture
async def ses(tmp_path: Path) -> AsyncIterator[Session]:
    store = SqliteStore(tmp_path / "corral.db")
    await store.open()
    now = clock.now()

    def seed(tx: Tx) -> None:
        stamps = {"created_at": now, "updated_at": now}
        tx.insert_workspace(WorkspaceRecord(id="ws_1", name="ws", root_path="/w", **stamps))
        for ses_id in (SES, OTHER):
            record = SessionRecord(
                id=ses_id,
                workspace_id="ws_1",
                subject_ref="user:alice",
                active_agent_name="assistant",
                **stamps,
            )
            tx.insert_session(record)

    try:
        await store.write(seed)
        yield Session(store)
    finally:
        await store.close()


async def start(ses: Session, n: int) -> None:
    """send(n) on an idle session and let a worker claim it."""
    assert await ses.send(n) == active_run()
    assert await ses.claim(n) is not None
    assert await ses.events() == [f"run.queued {n}", f"run.started {n}"]


def failed(status: Literal["failed", "timed_out"] = "failed") -> Ending:
    return Ending(status, error_code="model_stream_failed", error_message="the model went away")


# -- the slot is held until the running run ends ----------------------------------------


async def test_interrupt_waits_for_the_running_run_to_end(ses: Session) -> None:
    await start(ses, 1)

    assert await ses.send(2) == queued_at(1)
    assert await ses.events() == ["run.queued 2", "queue.updated:enqueued 2"]

    assert await ses.send(3, interrupt=True) == queued_at(1)
    assert await ses.pending() == ["run_3", "run_2"]
    run1 = await ses.run(1)
    assert run1.status == "running" and run1.cancel_requested_at is not None
    assert await ses.active() == []  # asked to cancel: no longer "active"...
    # ...but still executing, so run 3 waits at the head instead of overlapping with run 1
    assert await ses.claim(3) is None
    assert await ses.events() == ["run.queued 3", "queue.updated:promoted 3"]

    assert await ses.send(4) == queued_at(3)
    assert await ses.pending() == ["run_3", "run_2", "run_4"]
    await ses.cancel(1)  # already requested: nothing new
    assert await ses.events() == ["run.queued 4", "queue.updated:enqueued 4"]
    assert ses.queue_items() == [("run_3", 1, "m3"), ("run_2", 2, "m2"), ("run_4", 3, "m4")]

    sent_at = await ses.message_time(3)
    await ses.end(1, CANCELLED)
    assert await ses.pending() == ["run_2", "run_4"]
    assert (await ses.run(3)).status == "queued"
    assert await ses.active() == ["run_3"]
    assert await ses.message_time(3) > sent_at
    assert await ses.events() == ["run.cancelled 1", "queue.updated:dequeued 3"]
    assert ses.queue_items() == [("run_2", 1, "m2"), ("run_4", 2, "m4")]
    assert await ses.claim(2) is None  # still pending behind run 3
    assert await ses.claim(3) is not None
    assert await ses.events() == ["run.started 3"]


async def test_send_while_a_cancel_requested_run_still_executes_is_queued(ses: Session) -> None:
    await start(ses, 1)
    await ses.cancel(1)
    assert await ses.events() == []  # the worker reports run.cancelled when it ends the run

    assert await ses.send(2) == queued_at(1)
    assert await ses.pending() == ["run_2"]
    await ses.end(1, CANCELLED)
    assert await ses.pending() == []
    assert await ses.active() == ["run_2"]
    assert await ses.events() == [
        "run.queued 2",
        "queue.updated:enqueued 2",
        "run.cancelled 1",
        "queue.updated:dequeued 2",
    ]


async def test_nothing_is_dispatched_or_claimed_while_a_run_executes(ses: Session) -> None:
    await start(ses, 1)
    await ses.send(2)
    await ses.events()
    assert await ses.store.write(lambda tx: queue.dispatch_next(tx, SES)) is None
    assert await ses.claim(2) is None
    await ses.cancel(1)  # asked to cancel, it still executes
    assert await ses.store.write(lambda tx: queue.dispatch_next(tx, SES)) is None
    assert await ses.claim(2) is None
    assert await ses.pending() == ["run_2"]
    assert await ses.events() == []


async def test_cancel_of_a_running_run_only_requests_it(ses: Session) -> None:
    await start(ses, 1)
    await ses.send(2)
    await ses.events()

    await ses.cancel(1)
    run1 = await ses.run(1)
    assert run1.status == "running" and run1.cancel_requested_at is not None
    assert run1.ended_at is None
    assert await ses.pending() == ["run_2"]
    assert await ses.events() == []

    await ses.end(1, CANCELLED)
    assert await ses.active() == ["run_2"]
    assert await ses.events() == ["run.cancelled 1", "queue.updated:dequeued 2"]


async def test_a_run_ending_with_nothing_pending_dispatches_nothing(ses: Session) -> None:
    await start(ses, 1)
    await ses.end(1)
    assert await ses.active() == []
    assert await ses.events() == ["run.completed 1"]


async def test_sessions_have_a_slot_each(ses: Session) -> None:
    await start(ses, 1)
    other = Session(ses.store, OTHER)
    await start(other, 2)
    assert await other.send(3) == queued_at(1)
    assert await ses.send(4) == queued_at(1)
    await other.end(2)
    assert await other.active() == ["run_3"]
    assert await ses.pending() == ["run_4"]
    assert await ses.events() == ["run.queued 4", "queue.updated:enqueued 4"]
    assert await other.events() == [
        "run.queued 3",
        "queue.updated:enqueued 3",
        "run.completed 2",
        "queue.updated:dequeued 3",
    ]


# -- cancel ------------------------------------------------------------------------------


async def test_cancel_of_a_pending_run_removes_it_and_renumbers(ses: Session) -> None:
    await start(ses, 1)
    for n in (2, 3, 4):
        await ses.send(n)
    await ses.events()

    await ses.cancel(3)
    assert await ses.pending() == ["run_2", "run_4"]
    run3 = await ses.run(3)
    assert run3.status == "cancelled" and run3.ended_at is not None
    assert (await ses.run(1)).cancel_requested_at is None  # the running run is untouched
    assert await ses.events() == ["queue.updated:removed 3", "run.cancelled 3"]
    assert ses.queue_items() == [("run_2", 1, "m2"), ("run_4", 2, "m4")]
    steps = await ses.store.read(lambda tx: tx.list_steps("run_3", 0, 10))
    assert [s.name for s in steps] == ["run.cancelled"]


async def test_cancel_of_a_queued_active_run_ends_it_and_dispatches_the_head(
    ses: Session,
) -> None:
    assert await ses.send(1) == active_run()  # queued: no worker has it yet
    await ses.send(2)
    await ses.send(3)
    await ses.events()

    await ses.cancel(1)
    assert (await ses.run(1)).status == "cancelled"
    assert await ses.claim(1) is None  # a worker arriving late finds it ended
    assert await ses.pending() == ["run_3"]
    assert await ses.active() == ["run_2"]
    assert await ses.events() == ["run.cancelled 1", "queue.updated:dequeued 2"]

    await ses.cancel(1)  # ended: nothing more
    assert await ses.events() == []


# -- interrupt and guide when the active run is only queued -----------------------------


async def test_interrupt_of_a_queued_active_run_dispatches_at_once(ses: Session) -> None:
    await ses.send(1)
    await ses.send(2)
    await ses.events()

    assert await ses.send(3, interrupt=True) == active_run()
    assert (await ses.run(1)).status == "cancelled"
    assert await ses.active() == ["run_3"]
    assert await ses.pending() == ["run_2"]
    assert await ses.events() == [
        "run.queued 3",
        "queue.updated:promoted 3",
        "run.cancelled 1",
        "queue.updated:dequeued 3",
    ]


async def test_guide_while_the_active_run_is_queued_runs_the_guided_one_next(
    ses: Session,
) -> None:
    await ses.send(1)
    for n in (2, 3, 4):
        await ses.send(n)
    await ses.events()
    sent_at = await ses.message_time(3)

    await ses.guide(3)
    assert (await ses.run(1)).status == "cancelled"
    assert await ses.active() == ["run_3"]
    assert await ses.pending() == ["run_2", "run_4"]
    assert await ses.message_time(3) > sent_at
    assert await ses.events() == [
        "queue.updated:promoted 3",
        "run.cancelled 1",
        "queue.updated:dequeued 3",
    ]


async def test_guide_while_a_run_executes_promotes_and_waits(ses: Session) -> None:
    await start(ses, 1)
    await ses.send(2)
    await ses.send(3)
    await ses.events()

    await ses.guide(3)
    assert await ses.pending() == ["run_3", "run_2"]
    assert (await ses.run(1)).cancel_requested_at is not None
    assert await ses.events() == ["queue.updated:promoted 3"]
    await ses.end(1, CANCELLED)
    assert await ses.active() == ["run_3"]
    assert await ses.events() == ["run.cancelled 1", "queue.updated:dequeued 3"]


async def test_guide_of_a_run_that_is_not_pending_is_a_no_op(ses: Session) -> None:
    await start(ses, 1)
    await ses.guide(1)
    assert (await ses.run(1)).cancel_requested_at is None
    assert await ses.events() == []


# -- requeue -----------------------------------------------------------------------------


async def test_requeue_while_another_run_is_active_puts_it_in_the_pending_queue(
    ses: Session,
) -> None:
    await start(ses, 1)
    await ses.end(1, failed())
    assert await ses.events() == ["run.failed 1"]
    await start(ses, 2)

    assert await ses.apply(1, lambda tx, run: queue.requeue(tx, run, "user:op")) == "failed"
    run1 = await ses.run(1)
    assert run1.status == "queued" and run1.ended_at is None and run1.error_code is None
    assert run1.metadata and run1.metadata["recovery"]["previousStatus"] == "failed"
    assert await ses.pending() == ["run_1"]
    assert await ses.active() == ["run_2"]
    assert await ses.events() == ["run.queued 1", "queue.updated:enqueued 1"]

    await ses.end(2)
    assert await ses.active() == ["run_1"]
    assert await ses.claim(1) is not None
    assert await ses.events() == ["run.completed 2", "queue.updated:dequeued 1", "run.started 1"]


async def test_requeue_on_an_idle_session_leaves_it_the_active_run(ses: Session) -> None:
    await start(ses, 1)
    await ses.end(1, failed("timed_out"))
    assert await ses.events() == ["run.failed 1"]  # a timed-out run's event is run.failed

    await ses.apply(1, lambda tx, run: queue.requeue(tx, run, "user:op"))
    assert await ses.pending() == []
    assert await ses.active() == ["run_1"]
    assert await ses.events() == ["run.queued 1"]
    steps = await ses.store.read(lambda tx: tx.list_steps("run_1", 0, 10))
    assert [s.name for s in steps] == ["run.started", "run.timed_out", "run.requeued"]


async def test_requeue_refuses_a_run_that_did_not_fail(ses: Session) -> None:
    await start(ses, 1)
    with pytest.raises(CorralError) as raised:
        await ses.apply(1, lambda tx, run: queue.requeue(tx, run, "user:op"))
    assert raised.value.code == "run_requeue_invalid_status"
    assert (await ses.run(1)).status == "running"
    assert await ses.events() == []


# -- atomicity ---------------------------------------------------------------------------


async def test_state_and_events_commit_or_roll_back_together(ses: Session) -> None:
    await start(ses, 1)

    def end_then_crash(tx: Tx, run: RunRecord) -> None:
        queue.cancel(tx, run)
        lifecycle.finish(tx, run.id, CANCELLED)
        raise RuntimeError("worker crashed mid-transaction")

    await ses.send(2)
    await ses.events()
    with pytest.raises(RuntimeError):
        await ses.apply(1, end_then_crash)
    run1 = await ses.run(1)
    assert run1.status == "running" and run1.cancel_requested_at is None
    assert await ses.pending() == ["run_2"]
    assert await ses.events() == []
