"""Runs, steps, the pending queue, events and delete cascades, on every backend."""

from __future__ import annotations

from conftest import Counts
from store_factories import at, message, run, session, workspace

from corral.store import Store, Tx

# -- runs ------------------------------------------------------------------------------


async def test_run_round_trip_and_update(seeded: Store) -> None:
    rec = run("run_1", trigger_ref="msg_1", metadata={"recovery": {"state": "x"}}, t=1)
    await seeded.write(lambda tx: tx.insert_run(rec))
    assert await seeded.read(lambda tx: tx.get_run("run_1")) == rec

    rec.status, rec.started_at, rec.heartbeat_at = "running", at(2), at(3)
    rec.switch_count, rec.error_code, rec.metadata = 2, "boom", None
    assert await seeded.write(lambda tx: tx.update_run(rec))
    assert await seeded.read(lambda tx: tx.get_run("run_1")) == rec
    assert await seeded.read(lambda tx: tx.get_run("run_missing")) is None


async def test_list_session_runs_newest_first(seeded: Store) -> None:
    def seed(tx: Tx) -> None:
        for i, t in enumerate([1, 3, 3, 2]):
            tx.insert_run(run(f"run_{i}", t=t))
        tx.insert_run(run("run_detached", None, t=9))  # a run without a session

    await seeded.write(seed)
    runs = await seeded.read(lambda tx: tx.list_session_runs("ses_1", 0, 10))
    assert [r.id for r in runs] == ["run_2", "run_1", "run_3", "run_0"]
    page = await seeded.read(lambda tx: tx.list_session_runs("ses_1", 2, 1))
    assert [r.id for r in page] == ["run_3"]


async def test_active_runs_and_runs_by_status(seeded: Store) -> None:
    # At most one run of a session executes (PostgreSQL refuses a second): one per session here.
    def seed(tx: Tx) -> None:
        tx.insert_session(session("ses_2"))
        tx.insert_session(session("ses_3"))
        tx.insert_run(run("run_q", t=1))
        tx.insert_run(run("run_r", "ses_2", t=2, status="running"))
        tx.insert_run(run("run_w", "ses_3", t=3, status="waiting_tool"))
        tx.insert_run(run("run_c", t=4, status="running", cancel_requested_at=at(5)))
        tx.insert_run(run("run_done", t=5, status="completed"))
        tx.insert_run(run("run_pending", t=6))
        tx.enqueue_pending("ses_1", "run_pending", at(6))

    await seeded.write(seed)
    assert [r.id for r in await seeded.read(lambda tx: tx.active_runs("ses_1"))] == ["run_q"]
    occupying = await seeded.read(lambda tx: tx.active_runs("ses_1", include_cancel_requested=True))
    assert [r.id for r in occupying] == ["run_q", "run_c"]
    assert [r.id for r in await seeded.read(lambda tx: tx.active_runs("ses_2"))] == ["run_r"]
    assert [r.id for r in await seeded.read(lambda tx: tx.active_runs("ses_3"))] == ["run_w"]
    assert await seeded.read(lambda tx: tx.active_runs("ses_other")) == []

    queued = await seeded.read(lambda tx: tx.runs_by_status(["queued"], 10))
    assert [r.id for r in queued] == ["run_q", "run_pending"]
    live = await seeded.read(lambda tx: tx.runs_by_status({"running", "waiting_tool"}, 2))
    assert [r.id for r in live] == ["run_r", "run_w"]
    assert await seeded.read(lambda tx: tx.runs_by_status([], 10)) == []


async def test_runnable_runs_and_runs_to_stop(seeded: Store) -> None:
    def seed(tx: Tx) -> None:
        tx.insert_run(run("run_q2", t=2))
        tx.insert_run(run("run_q1", t=1))
        tx.insert_run(run("run_qc", t=3, cancel_requested_at=at(4)))
        tx.insert_run(run("run_pending", t=4))
        tx.enqueue_pending("ses_1", "run_pending", at(4))
        tx.insert_session(session("ses_2"))
        tx.insert_session(session("ses_3"))
        tx.insert_run(run("run_r", t=5, status="running"))
        tx.insert_run(run("run_w", "ses_2", t=6, status="waiting_tool"))
        tx.insert_run(run("run_c", "ses_3", t=7, status="running", cancel_requested_at=at(8)))
        tx.insert_run(run("run_done", t=8, status="completed"))

    await seeded.write(seed)
    assert await seeded.read(lambda tx: tx.runnable_run_ids(10)) == ["run_q1", "run_q2"]
    assert await seeded.read(lambda tx: tx.runnable_run_ids(1)) == ["run_q1"]
    asked = ["run_r", "run_w", "run_c", "run_done", "run_gone"]
    stop = await seeded.read(lambda tx: tx.runs_to_stop(asked))
    assert sorted(stop) == ["run_c", "run_done", "run_gone"]
    assert await seeded.read(lambda tx: tx.runs_to_stop([])) == []


# -- steps -----------------------------------------------------------------------------


async def test_steps_get_per_run_sequence(seeded: Store) -> None:
    await seeded.write(lambda tx: (tx.insert_run(run("run_a")), tx.insert_run(run("run_b"))))

    def append(tx: Tx) -> list[int]:
        seqs = [
            tx.append_step("run_a", step_type="system", status="completed", name="run.started"),
            tx.append_step("run_b", step_type="model_call", status="running"),
            tx.append_step(
                "run_a", step_type="tool_call", status="running", input={"toolCallId": "c1"}
            ),
        ]
        return [s.seq for s in seqs]

    assert await seeded.write(append) == [1, 1, 2]
    step = await seeded.write(
        lambda tx: tx.append_step("run_a", step_type="hook", status="queued", input=[1, "x"])
    )
    assert step.seq == 3 and step.id.startswith("step_") and len(step.id) == 37

    steps = await seeded.read(lambda tx: tx.list_steps("run_a", 0, 10))
    assert [s.seq for s in steps] == [1, 2, 3]
    assert steps[1].input == {"toolCallId": "c1"} and steps[1].output is None
    assert [s.seq for s in await seeded.read(lambda tx: tx.list_steps("run_a", 1, 1))] == [2]

    step.status, step.output, step.ended_at = "completed", {"ok": True}, at(9)
    assert await seeded.write(lambda tx: tx.update_step(step))
    assert await seeded.read(lambda tx: tx.get_step(step.id)) == step


# -- pending queue ---------------------------------------------------------------------


async def _queue(store: Store) -> list[tuple[str, int]]:
    items = await store.read(lambda tx: tx.pending_runs("ses_1"))
    return [(p.run_id, p.position) for p in items]


async def test_pending_queue_enqueue_promote_remove_pop(seeded: Store) -> None:
    def seed(tx: Tx) -> list[int]:
        for i in range(1, 5):
            tx.insert_run(run(f"run_{i}", t=i))
        return [tx.enqueue_pending("ses_1", f"run_{i}", at(i)) for i in range(1, 5)]

    assert await seeded.write(seed) == [1, 2, 3, 4]
    assert await seeded.write(lambda tx: tx.promote_pending("ses_1", "run_3"))
    assert await _queue(seeded) == [("run_3", 1), ("run_1", 2), ("run_2", 3), ("run_4", 4)]
    assert not await seeded.write(lambda tx: tx.promote_pending("ses_1", "run_none"))

    assert await seeded.write(lambda tx: tx.remove_pending("ses_1", "run_1"))
    assert await _queue(seeded) == [("run_3", 1), ("run_2", 2), ("run_4", 3)]
    assert not await seeded.write(lambda tx: tx.remove_pending("ses_1", "run_1"))

    head = await seeded.write(lambda tx: tx.pop_pending("ses_1"))
    assert head is not None
    assert (head.run_id, head.position, head.created_at) == ("run_3", 1, at(3))
    assert await _queue(seeded) == [("run_2", 1), ("run_4", 2)]
    assert await seeded.write(lambda tx: tx.enqueue_pending("ses_1", "run_1", at(9))) == 3

    for _ in range(3):
        assert await seeded.write(lambda tx: tx.pop_pending("ses_1")) is not None
    assert await seeded.write(lambda tx: tx.pop_pending("ses_1")) is None


# -- events ----------------------------------------------------------------------------


async def test_event_cursors_are_per_session_and_contiguous(seeded: Store) -> None:
    await seeded.write(lambda tx: tx.insert_session(session("ses_2")))
    assert await seeded.read(lambda tx: tx.last_event_cursor("ses_1")) == 0

    def emit(tx: Tx) -> list[int]:
        out = []
        for i in range(3):
            out.append(tx.append_event("ses_1", "run_a", "run.queued", {"i": i}, at(i)).cursor)
            out.append(tx.append_event("ses_2", None, "engine.log", {"i": i}, at(i)).cursor)
        out.append(tx.append_event("ses_1", "run_b", "run.started", {}, at(5)).cursor)
        return out

    assert await seeded.write(emit) == [1, 1, 2, 2, 3, 3, 4]
    assert await seeded.read(lambda tx: tx.last_event_cursor("ses_1")) == 4

    events = await seeded.read(lambda tx: tx.list_events("ses_1", 0, 100))
    assert [e.cursor for e in events] == [1, 2, 3, 4]
    first = events[0]
    assert first.id.startswith("evt_") and len(first.id) == 36
    assert (first.session_id, first.run_id, first.event) == ("ses_1", "run_a", "run.queued")
    assert (first.data, first.created_at) == ({"i": 0}, at(0))

    page = await seeded.read(lambda tx: tx.list_events("ses_1", 1, 2))
    assert [e.cursor for e in page] == [2, 3]
    by_run = await seeded.read(lambda tx: tx.list_events("ses_1", 0, 100, run_id="run_b"))
    assert [e.cursor for e in by_run] == [4]


# -- delete cascades -------------------------------------------------------------------

_TABLES = ("sessions", "messages", "runs", "run_steps", "session_pending_runs", "session_events")


def _populate(tx: Tx, ses_id: str, ws_id: str = "ws_1", parent: str | None = None) -> None:
    """One session with one row in every child table."""
    tx.insert_session(session(ses_id, ws_id, parent_session_id=parent))
    tx.insert_run(run(f"run_{ses_id}", ses_id, ws_id))
    tx.insert_message(message(f"msg_{ses_id}", ses_id, run_id=f"run_{ses_id}"))
    tx.append_step(f"run_{ses_id}", step_type="system", status="completed")
    tx.enqueue_pending(ses_id, f"run_{ses_id}", at(0))
    tx.append_event(ses_id, f"run_{ses_id}", "run.queued", {}, at(0))


async def test_delete_session_tree_cascades_to_descendants_only(
    store: Store, row_counts: Counts
) -> None:
    def seed(tx: Tx) -> None:
        tx.insert_workspace(workspace())
        _populate(tx, "ses_root")
        _populate(tx, "ses_child", parent="ses_root")
        _populate(tx, "ses_grandchild", parent="ses_child")
        _populate(tx, "ses_other")

    await store.write(seed)
    # A child run pointing at a parent run must not block the delete.
    await store.write(lambda tx: tx.insert_run(run("run_sub", None, parent_run_id="run_ses_root")))

    deleted = await store.write(lambda tx: tx.delete_session_tree("ses_root"))
    assert deleted == ["ses_root", "ses_child", "ses_grandchild"]
    assert row_counts(_TABLES) == {t: 1 for t in _TABLES} | {"runs": 2}
    orphan = await store.read(lambda tx: tx.get_run("run_sub"))
    assert orphan is not None and orphan.parent_run_id is None
    assert await store.write(lambda tx: tx.delete_session_tree("ses_root")) == []


async def test_delete_workspace_cascades_everything(store: Store, row_counts: Counts) -> None:
    def seed(tx: Tx) -> None:
        tx.insert_workspace(workspace("ws_1"))
        tx.insert_workspace(workspace("ws_2"))
        _populate(tx, "ses_a", "ws_1")
        _populate(tx, "ses_b", "ws_1", parent="ses_a")
        _populate(tx, "ses_keep", "ws_2")
        tx.insert_run(run("run_nosession", None, "ws_1"))

    await store.write(seed)
    assert await store.write(lambda tx: tx.delete_workspace("ws_1"))
    assert not await store.write(lambda tx: tx.delete_workspace("ws_1"))
    assert row_counts(_TABLES) == {t: 1 for t in _TABLES}
    assert await store.read(lambda tx: tx.get_workspace("ws_2")) is not None
