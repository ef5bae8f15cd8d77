"""What a run shows the model of its session: the messages since the last compaction, in the
provider-neutral shape of reference §6.5, up to the message that triggered the run.

Messages of runs still waiting in the session queue are left out: their user messages are
stored when sent but belong to the conversation only once their run is dispatched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from corral.store import MessageKey, MessageRecord, Tx

PAGE = 500
COMPACT_BOUNDARY = "compact_boundary"
COMPACT_SUMMARY = "compact_summary"


@dataclass(frozen=True, slots=True)
class History:
    messages: list[MessageRecord]  # since the last compaction boundary, oldest first
    summary: str | None  # the summary written by the last compaction, if any


def runtime_kind(msg: MessageRecord) -> str | None:
    kind = (msg.metadata or {}).get("runtimeKind")
    return kind if isinstance(kind, str) else None


def load_history(tx: Tx, session_id: str, upto: MessageKey | None = None) -> History:
    """The conversation so far; `upto` (inclusive) cuts it at a run's trigger message."""
    waiting = {p.run_id for p in tx.pending_runs(session_id)}
    kept: list[MessageRecord] = []
    summary: str | None = None
    after: MessageKey | None = None
    while True:
        page = tx.list_messages(session_id, PAGE, after=after)
        for msg in page:
            if upto is not None and msg.key > upto:
                return History(kept, summary)
            kind = runtime_kind(msg)
            if kind == COMPACT_BOUNDARY:
                kept, summary = [], None
            elif kind == COMPACT_SUMMARY:
                summary = msg.content if isinstance(msg.content, str) else None
            elif msg.run_id not in waiting or msg.role != "user":
                kept.append(msg)
        if len(page) < PAGE:
            return History(kept, summary)
        after = page[-1].key


def model_messages(history: list[MessageRecord]) -> list[dict[str, Any]]:
    """The §6.5 role bodies a provider takes (system messages travel in the system prompt)."""
    return [{"role": m.role, "content": m.content} for m in history if m.role != "system"]
