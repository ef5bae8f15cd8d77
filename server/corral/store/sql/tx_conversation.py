"""Repositories for workspaces, sessions and messages, shared by the SQL backends."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from ..base import Direction, MessageContext
from ..records import MessageKey, MessageRecord, SessionRecord, WorkspaceRecord
from . import codec as c
from .txbase import SqlTxBase

_WS = c.WORKSPACE_COLUMNS
_SES = c.SESSION_COLUMNS
_MSG = c.MESSAGE_COLUMNS


class ConversationRepo(SqlTxBase):
    __slots__ = ()

    # -- workspaces -------------------------------------------------------------------

    def insert_workspace(self, rec: WorkspaceRecord) -> None:
        self._execute(
            f"INSERT INTO workspaces ({_WS}) VALUES ({c.placeholders(_WS)})",
            self.codec.workspace_values(rec),
        )

    def get_workspace(self, workspace_id: str) -> WorkspaceRecord | None:
        row = self._one(f"SELECT {_WS} FROM workspaces WHERE id = ?", (workspace_id,))
        return None if row is None else self.codec.workspace_from(row)

    def update_workspace(self, rec: WorkspaceRecord) -> bool:
        values = self.codec.workspace_values(rec)
        return self._changed(
            f"UPDATE workspaces SET {c.assignments(_WS)} WHERE id = ?", (*values[1:], rec.id)
        )

    def list_workspaces(
        self, offset: int, limit: int, ids: Collection[str] | None = None
    ) -> list[WorkspaceRecord]:
        if ids is None:
            where, params = "", []
        elif not ids:
            return []
        else:
            where, params = f"WHERE {self.in_list('id')}", [self.id_list(ids)]
        rows = self._all(
            f"SELECT {_WS} FROM workspaces {where}"
            " ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [self.codec.workspace_from(r) for r in rows]

    def workspaces_overlapping(self, root_path: str) -> list[WorkspaceRecord]:
        # Same directory, an ancestor of it, or a descendant (compared on whole path segments).
        rows = self._all(
            f"SELECT {_WS} FROM workspaces WHERE root_path = ?"
            " OR substr(?, 1, length(root_path) + 1) = root_path || '/'"
            " OR substr(root_path, 1, length(?) + 1) = ? || '/'",
            (root_path,) * 4,
        )
        return [self.codec.workspace_from(r) for r in rows]

    def delete_workspace(self, workspace_id: str) -> bool:
        # Sessions, runs and everything under them cascade (see 0001_init.sql).
        return self._changed("DELETE FROM workspaces WHERE id = ?", (workspace_id,))

    def touch_workspace(self, workspace_id: str, at: datetime) -> bool:
        return self._changed(
            "UPDATE workspaces SET updated_at = ? WHERE id = ?", (self.codec.ts(at), workspace_id)
        )

    # -- sessions ---------------------------------------------------------------------

    def insert_session(self, rec: SessionRecord) -> None:
        self._execute(
            f"INSERT INTO sessions ({_SES}) VALUES ({c.placeholders(_SES)})",
            self.codec.session_values(rec),
        )

    def get_session(self, session_id: str) -> SessionRecord | None:
        row = self._one(f"SELECT {_SES} FROM sessions WHERE id = ?", (session_id,))
        return None if row is None else self.codec.session_from(row)

    def update_session(self, rec: SessionRecord) -> bool:
        values = self.codec.session_values(rec)
        return self._changed(
            f"UPDATE sessions SET {c.assignments(_SES)} WHERE id = ?", (*values[1:], rec.id)
        )

    def delete_session_tree(self, session_id: str) -> list[str]:
        ids = [
            r["id"]
            for r in self._all(
                "WITH RECURSIVE tree(id) AS ("
                " SELECT id FROM sessions WHERE id = ?"
                " UNION ALL SELECT s.id FROM sessions s JOIN tree t ON s.parent_session_id = t.id"
                ") SELECT id FROM tree",
                (session_id,),
            )
        ]
        if ids:
            # Deleting every id explicitly (not only the root through the parent cascade)
            # keeps deep trees clear of SQLite's cascade depth limit.
            self._execute(f"DELETE FROM sessions WHERE {self.in_list('id')}", (self.id_list(ids),))
        return ids

    def list_sessions(
        self, workspace_id: str, offset: int, limit: int, *, top_level_only: bool = False
    ) -> list[SessionRecord]:
        roots = " AND parent_session_id IS NULL" if top_level_only else ""
        rows = self._all(
            f"SELECT {_SES} FROM sessions WHERE workspace_id = ?{roots}"
            " ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
            (workspace_id, limit, offset),
        )
        return [self.codec.session_from(r) for r in rows]

    def list_child_sessions(self, parent_id: str, offset: int, limit: int) -> list[SessionRecord]:
        rows = self._all(
            f"SELECT {_SES} FROM sessions WHERE parent_session_id = ?"
            " ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
            (parent_id, limit, offset),
        )
        return [self.codec.session_from(r) for r in rows]

    def touch_session(self, session_id: str, at: datetime) -> bool:
        return self._changed(
            "UPDATE sessions SET updated_at = ? WHERE id = ?", (self.codec.ts(at), session_id)
        )

    # -- messages ---------------------------------------------------------------------

    def insert_message(self, rec: MessageRecord) -> None:
        self._execute(
            f"INSERT INTO messages ({_MSG}) VALUES ({c.placeholders(_MSG)})",
            self.codec.message_values(rec),
        )

    def get_message(self, session_id: str, message_id: str) -> MessageRecord | None:
        row = self._one(
            f"SELECT {_MSG} FROM messages WHERE id = ? AND session_id = ?",
            (message_id, session_id),
        )
        return None if row is None else self.codec.message_from(row)

    def update_message(self, rec: MessageRecord) -> bool:
        values = self.codec.message_values(rec)
        return self._changed(
            f"UPDATE messages SET {c.assignments(_MSG)} WHERE id = ?", (*values[1:], rec.id)
        )

    def list_messages(
        self,
        session_id: str,
        limit: int,
        after: MessageKey | None = None,
        before: MessageKey | None = None,
        direction: Direction = "forward",
    ) -> list[MessageRecord]:
        where = ["session_id = ?"]
        params: list[object] = [session_id]
        # Row-value comparisons walk the (session_id, created_at, id) index as a range.
        if after is not None:
            where.append("(created_at, id) > (?, ?)")
            params += [self.codec.ts(after[0]), after[1]]
        if before is not None:
            where.append("(created_at, id) < (?, ?)")
            params += [self.codec.ts(before[0]), before[1]]
        order = "ASC" if direction == "forward" else "DESC"
        rows = self._all(
            f"SELECT {_MSG} FROM messages WHERE {' AND '.join(where)}"
            f" ORDER BY created_at {order}, id {order} LIMIT ?",
            (*params, limit),
        )
        return [self.codec.message_from(r) for r in rows]

    def message_context(
        self, session_id: str, anchor: MessageKey, before_n: int, after_n: int
    ) -> MessageContext:
        # One extra row on each side tells whether more exist beyond the window.
        before = self.list_messages(session_id, before_n + 1, before=anchor, direction="backward")
        after = self.list_messages(session_id, after_n + 1, after=anchor, direction="forward")
        return MessageContext(
            before=list(reversed(before[:before_n])),
            after=after[:after_n],
            has_more_before=len(before) > before_n,
            has_more_after=len(after) > after_n,
        )

    def restamp_message(self, message_id: str, created_at: datetime) -> bool:
        return self._changed(
            "UPDATE messages SET created_at = ? WHERE id = ?",
            (self.codec.ts(created_at), message_id),
        )
