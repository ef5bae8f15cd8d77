"""The store interface the core programs against.

The core hands the store a *synchronous* function ``fn(tx)`` holding a whole unit of work;
the store runs it on its own thread inside one transaction and the core awaits the result.
That is one thread hop and (for writes) one commit per state change plus its events, and the
event loop never waits on the database. Nothing here names a database driver: backends
(``sqlite``, ``postgres``) implement these protocols, sharing their SQL (``store/sql``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

from .records import (
    EventRecord,
    JsonObject,
    MessageKey,
    MessageRecord,
    PendingRunRecord,
    RunRecord,
    RunStepRecord,
    SessionRecord,
    WorkspaceRecord,
)

T = TypeVar("T")

Direction = Literal["forward", "backward"]

# Told, after a write that appended session events has committed, the last cursor each of
# those sessions reached ({session_id: cursor}); see Store.add_event_listener.
EventListener = Callable[[Mapping[str, int]], None]

# A session has an active run when one of its runs is in these statuses, is not pending and
# has no cancel request (docs/contract.md#session-queue).
ACTIVE_RUN_STATUSES: tuple[str, ...] = ("queued", "running", "waiting_tool")


class StoreError(Exception):
    """A backend failure, translated from the driver's own exception types.

    After a ``StoreError`` inside ``fn`` the unit of work should be abandoned (re-raise):
    PostgreSQL aborts the whole transaction on any statement error.
    """


class ConflictError(StoreError):
    """A uniqueness or foreign-key constraint was violated (duplicate id, missing parent)."""


class MessageContext(NamedTuple):
    """Messages around an anchor, both lists in chronological order."""

    before: list[MessageRecord]
    after: list[MessageRecord]
    has_more_before: bool
    has_more_after: bool


class Tx(Protocol):
    """Synchronous repository methods, valid only inside the ``fn`` given to read/write.

    ``offset``/``limit`` listings return at most ``limit`` rows; ask for ``limit + 1`` to learn
    whether a next page exists. ``update_*``/``touch_*``/``delete_*`` return whether a row
    matched. Ids are chosen by the caller, except event and step ids.
    """

    # -- workspaces -------------------------------------------------------------------
    def insert_workspace(self, rec: WorkspaceRecord) -> None: ...
    def get_workspace(self, workspace_id: str) -> WorkspaceRecord | None: ...
    def update_workspace(self, rec: WorkspaceRecord) -> bool: ...
    def list_workspaces(
        self, offset: int, limit: int, ids: Collection[str] | None = None
    ) -> list[WorkspaceRecord]: ...
    def workspaces_overlapping(self, root_path: str) -> list[WorkspaceRecord]:
        """Workspaces whose root is `root_path`, contains it, or lies inside it."""
        ...

    def delete_workspace(self, workspace_id: str) -> bool: ...
    def touch_workspace(self, workspace_id: str, at: datetime) -> bool: ...

    # -- sessions ---------------------------------------------------------------------
    def insert_session(self, rec: SessionRecord) -> None: ...
    def get_session(self, session_id: str) -> SessionRecord | None: ...
    def update_session(self, rec: SessionRecord) -> bool: ...
    def delete_session_tree(self, session_id: str) -> list[str]: ...
    def list_sessions(
        self, workspace_id: str, offset: int, limit: int, *, top_level_only: bool = False
    ) -> list[SessionRecord]: ...
    def list_child_sessions(
        self, parent_id: str, offset: int, limit: int
    ) -> list[SessionRecord]: ...
    def touch_session(self, session_id: str, at: datetime) -> bool: ...

    # -- messages ---------------------------------------------------------------------
    def insert_message(self, rec: MessageRecord) -> None: ...
    def get_message(self, session_id: str, message_id: str) -> MessageRecord | None: ...
    def update_message(self, rec: MessageRecord) -> bool: ...
    def list_messages(
        self,
        session_id: str,
        limit: int,
        after: MessageKey | None = None,
        before: MessageKey | None = None,
        direction: Direction = "forward",
    ) -> list[MessageRecord]: ...
    def message_context(
        self, session_id: str, anchor: MessageKey, before_n: int, after_n: int
    ) -> MessageContext: ...
    def restamp_message(self, message_id: str, created_at: datetime) -> bool: ...

    # -- runs -------------------------------------------------------------------------
    def insert_run(self, rec: RunRecord) -> None: ...
    def get_run(self, run_id: str) -> RunRecord | None: ...
    def update_run(self, rec: RunRecord) -> bool: ...
    def list_session_runs(self, session_id: str, offset: int, limit: int) -> list[RunRecord]: ...
    def active_runs(
        self, session_id: str, *, include_cancel_requested: bool = False
    ) -> list[RunRecord]:
        """Live runs that are not pending; with the flag, also those asked to cancel but
        still executing (the session stays occupied until they end)."""
        ...

    def runs_by_status(self, statuses: Collection[str], limit: int) -> list[RunRecord]: ...
    def runnable_run_ids(self, limit: int) -> list[str]:
        """Queued runs that are their session's active run (not pending, not asked to cancel):
        the runs a worker may claim, oldest first."""
        ...

    def runs_to_stop(self, run_ids: Collection[str]) -> list[str]:
        """Those of `run_ids` that are asked to cancel or are no longer executing (ended, or
        gone with their session)."""
        ...

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
    ) -> RunStepRecord: ...
    def get_step(self, step_id: str) -> RunStepRecord | None: ...
    def list_steps(self, run_id: str, offset: int, limit: int) -> list[RunStepRecord]: ...
    def update_step(self, rec: RunStepRecord) -> bool: ...

    # -- session pending queue --------------------------------------------------------
    def pending_runs(self, session_id: str) -> list[PendingRunRecord]: ...
    def enqueue_pending(self, session_id: str, run_id: str, created_at: datetime) -> int: ...
    def promote_pending(self, session_id: str, run_id: str) -> bool: ...
    def remove_pending(self, session_id: str, run_id: str) -> bool: ...
    def pop_pending(self, session_id: str) -> PendingRunRecord | None: ...

    # -- events (outbox) --------------------------------------------------------------
    def append_event(
        self,
        session_id: str,
        run_id: str | None,
        event: str,
        data: JsonObject,
        created_at: datetime,
    ) -> EventRecord: ...
    def list_events(
        self, session_id: str, after_cursor: int, limit: int, run_id: str | None = None
    ) -> list[EventRecord]: ...
    def last_event_cursor(self, session_id: str) -> int: ...
    def last_event_cursors(self, session_ids: Collection[str]) -> dict[str, int]:
        """The last cursor of each session that has events (one statement)."""
        ...


class Store(Protocol):
    """An opened persistence backend.

    ``write(fn)``: ``fn`` runs in one write transaction, committed when it returns and rolled
    back when it raises (the exception propagates unchanged). Writes are serialized.
    ``read(fn)``: ``fn`` runs in a read-only snapshot; reads run concurrently with writes.
    ``fn`` must return plain values (records, lists), never live cursors. If the awaiting task
    is cancelled the unit of work may or may not have been committed.
    """

    def add_event_listener(self, listener: EventListener) -> None:
        """Call `listener` after every committed write that appended session events, never for
        one rolled back. It runs on the thread that committed, so it must not block; an error
        it raises is logged and does not undo the commit."""
        ...

    @property
    def kind(self) -> str: ...

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...
    async def read(self, fn: Callable[[Tx], T]) -> T: ...
    async def write(self, fn: Callable[[Tx], T]) -> T: ...
    async def foreign_commit_mark(self) -> int:
        """A number that changes when another process has committed to the database since it
        was last asked, and never for this process's own writes: a cheap probe to poll."""
        ...
