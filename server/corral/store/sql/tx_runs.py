"""Repositories for runs, run steps, the session pending queue and session events, shared by
the SQL backends."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from corral.ids import new_id

from ..base import ACTIVE_RUN_STATUSES
from ..records import EventRecord, JsonObject, PendingRunRecord, RunRecord, RunStepRecord
from . import codec as c
from .txbase import SqlTxBase

_RUN = c.RUN_COLUMNS
_STEP = c.STEP_COLUMNS
_PEND = c.PENDING_COLUMNS
_EVT = c.EVENT_COLUMNS

# Spelled out (not bound) so it matches the partial index runs_live_by_session, whose WHERE
# clause in each backend's 0001_init.sql must list the same statuses.
_LIVE = "status IN (" + ", ".join(f"'{s}'" for s in ACTIVE_RUN_STATUSES) + ")"


class RunRepo(SqlTxBase):
    __slots__ = ()

    # -- runs -------------------------------------------------------------------------

    def insert_run(self, rec: RunRecord) -> None:
        self._execute(
            f"INSERT INTO runs ({_RUN}) VALUES ({c.placeholders(_RUN)})", self.codec.run_values(rec)
        )

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self._one(f"SELECT {_RUN} FROM runs WHERE id = ?", (run_id,))
        return None if row is None else self.codec.run_from(row)

    def update_run(self, rec: RunRecord) -> bool:
        values = self.codec.run_values(rec)
        return self._changed(
            f"UPDATE runs SET {c.assignments(_RUN)} WHERE id = ?", (*values[1:], rec.id)
        )

    def list_session_runs(self, session_id: str, offset: int, limit: int) -> list[RunRecord]:
        rows = self._all(
            f"SELECT {_RUN} FROM runs WHERE session_id = ?"
            " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (session_id, limit, offset),
        )
        return [self.codec.run_from(r) for r in rows]

    def active_runs(
        self, session_id: str, *, include_cancel_requested: bool = False
    ) -> list[RunRecord]:
        cancel_filter = "" if include_cancel_requested else " AND cancel_requested_at IS NULL"
        rows = self._all(
            # Without statistics SQLite's planner prefers runs_by_session (it matches the ORDER
            # BY) and would scan the session's whole history; the live index holds a few rows.
            f"SELECT {_RUN} FROM runs r {self.index_hint('runs_live_by_session')}"
            f" WHERE session_id = ? AND {_LIVE}{cancel_filter}"
            " AND NOT EXISTS (SELECT 1 FROM session_pending_runs p WHERE p.run_id = r.id)"
            " ORDER BY created_at, id",
            (session_id,),
        )
        return [self.codec.run_from(r) for r in rows]

    def runs_by_status(self, statuses: Collection[str], limit: int) -> list[RunRecord]:
        """Oldest first, e.g. for recovery sweeps."""
        if not statuses:
            return []
        rows = self._all(
            f"SELECT {_RUN} FROM runs WHERE {self.in_list('status')}"
            " ORDER BY created_at, id LIMIT ?",
            (self.id_list(statuses), limit),
        )
        return [self.codec.run_from(r) for r in rows]

    def runnable_run_ids(self, limit: int) -> list[str]:
        rows = self._all(
            f"SELECT id FROM runs r {self.index_hint('runs_by_status')}"
            " WHERE status = 'queued' AND cancel_requested_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM session_pending_runs p WHERE p.run_id = r.id)"
            " ORDER BY created_at, id LIMIT ?",
            (limit,),
        )
        return [row["id"] for row in rows]

    def runs_to_stop(self, run_ids: Collection[str]) -> list[str]:
        rows = self._all(
            f"SELECT j.value FROM {self.ID_TABLE} WHERE NOT EXISTS (SELECT 1 FROM runs r"
            " WHERE r.id = j.value AND r.status IN ('running', 'waiting_tool')"
            " AND r.cancel_requested_at IS NULL)",
            (self.id_list(run_ids),),
        )
        return [row["value"] for row in rows]

    # -- run steps --------------------------------------------------------------------

    def append_step(
        self,
        run_id: str,
        *,
        step_type: str,
        status: str,
        name: str | None = None,
        agent_name: str | None = None,
        input: Any = None,
        output: Any = None,
        started_at: datetime | None = None,
        ended_at: datetime | None = None,
    ) -> RunStepRecord:
        # max+1 is race-free: write transactions are serialized (by every backend).
        seq = 1 + self._scalar_int("SELECT MAX(seq) FROM run_steps WHERE run_id = ?", (run_id,))
        rec = RunStepRecord(
            id=new_id("step"),
            run_id=run_id,
            seq=seq,
            step_type=step_type,
            status=status,
            name=name,
            agent_name=agent_name,
            input=input,
            output=output,
            started_at=started_at,
            ended_at=ended_at,
        )
        self._execute(
            f"INSERT INTO run_steps ({_STEP}) VALUES ({c.placeholders(_STEP)})",
            self.codec.step_values(rec),
        )
        return rec

    def get_step(self, step_id: str) -> RunStepRecord | None:
        row = self._one(f"SELECT {_STEP} FROM run_steps WHERE id = ?", (step_id,))
        return None if row is None else self.codec.step_from(row)

    def list_steps(self, run_id: str, offset: int, limit: int) -> list[RunStepRecord]:
        rows = self._all(
            f"SELECT {_STEP} FROM run_steps WHERE run_id = ? ORDER BY seq LIMIT ? OFFSET ?",
            (run_id, limit, offset),
        )
        return [self.codec.step_from(r) for r in rows]

    def update_step(self, rec: RunStepRecord) -> bool:
        values = self.codec.step_values(rec)
        return self._changed(
            f"UPDATE run_steps SET {c.assignments(_STEP)} WHERE id = ?", (*values[1:], rec.id)
        )

    # -- session pending queue --------------------------------------------------------

    def pending_runs(self, session_id: str) -> list[PendingRunRecord]:
        rows = self._all(
            f"SELECT {_PEND} FROM session_pending_runs WHERE session_id = ?"
            " ORDER BY position, created_at, run_id",
            (session_id,),
        )
        return [self.codec.pending_from(r) for r in rows]

    def enqueue_pending(self, session_id: str, run_id: str, created_at: datetime) -> int:
        position = 1 + self._scalar_int(
            "SELECT MAX(position) FROM session_pending_runs WHERE session_id = ?", (session_id,)
        )
        self._execute(
            f"INSERT INTO session_pending_runs ({_PEND}) VALUES (?, ?, ?, ?)",
            (run_id, session_id, position, self.codec.ts(created_at)),
        )
        return position

    def promote_pending(self, session_id: str, run_id: str) -> bool:
        order = [p.run_id for p in self.pending_runs(session_id)]
        if run_id not in order:
            return False
        order.remove(run_id)
        self._renumber(session_id, [run_id, *order])
        return True

    def remove_pending(self, session_id: str, run_id: str) -> bool:
        removed = self._changed(
            "DELETE FROM session_pending_runs WHERE session_id = ? AND run_id = ?",
            (session_id, run_id),
        )
        if removed:
            self._renumber(session_id, [p.run_id for p in self.pending_runs(session_id)])
        return removed

    def pop_pending(self, session_id: str) -> PendingRunRecord | None:
        queue = self.pending_runs(session_id)
        if not queue:
            return None
        head = queue[0]
        self._execute("DELETE FROM session_pending_runs WHERE run_id = ?", (head.run_id,))
        self._renumber(session_id, [p.run_id for p in queue[1:]])
        head.position = 1
        return head

    def _renumber(self, session_id: str, order: list[str]) -> None:
        # Queues are short; rewriting positions 1..n in Python keeps the SQL portable.
        self._executemany(
            "UPDATE session_pending_runs SET position = ?"
            " WHERE session_id = ? AND run_id = ? AND position <> ?",
            [(i, session_id, rid, i) for i, rid in enumerate(order, start=1)],
        )

    # -- events (outbox) --------------------------------------------------------------

    def append_event(
        self,
        session_id: str,
        run_id: str | None,
        event: str,
        data: JsonObject,
        created_at: datetime,
    ) -> EventRecord:
        # Writes are serialized, so max+1 yields contiguous cursors with no gaps.
        cursor = 1 + self.last_event_cursor(session_id)
        rec = EventRecord(
            id=new_id("evt"),
            cursor=cursor,
            session_id=session_id,
            run_id=run_id,
            event=event,
            data=data,
            created_at=created_at,
        )
        self._execute(
            f"INSERT INTO session_events ({_EVT}) VALUES ({c.placeholders(_EVT)})",
            self.codec.event_values(rec),
        )
        self._event_appended(session_id, cursor)
        return rec

    def list_events(
        self, session_id: str, after_cursor: int, limit: int, run_id: str | None = None
    ) -> list[EventRecord]:
        by_run, params = ("", ()) if run_id is None else (" AND run_id = ?", (run_id,))
        rows = self._all(
            f"SELECT {_EVT} FROM session_events WHERE session_id = ? AND cursor > ?{by_run}"
            " ORDER BY cursor LIMIT ?",
            (session_id, after_cursor, *params, limit),
        )
        return [self.codec.event_from(r) for r in rows]

    def last_event_cursor(self, session_id: str) -> int:
        return self._scalar_int(
            "SELECT MAX(cursor) FROM session_events WHERE session_id = ?", (session_id,)
        )

    def last_event_cursors(self, session_ids: Collection[str]) -> dict[str, int]:
        rows = self._all(
            "SELECT session_id, MAX(cursor) AS last FROM session_events"
            f" WHERE {self.in_list('session_id')} GROUP BY session_id",
            (self.id_list(session_ids),),
        )
        return {row["session_id"]: int(row["last"]) for row in rows}
