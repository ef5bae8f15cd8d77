"""What a run shows the model of its session: the messages since the last compaction, in the
provider-neutral shape (docs/contract.md#message-bodies), up to the message that triggered the run.

Messages of runs still waiting in the session queue are left out: their user messages are
stored when sent but belong to the conversation only once their run is dispatched.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.providers.transcript_types import (
    JsonObject,
    ModelMessage,
    ToolCallPart,
    ToolResultOutput,
    ToolResultPart,
)
from corral.store import MessageKey, MessageRecord, Tx

PAGE = 500
COMPACT_BOUNDARY = "compact_boundary"
COMPACT_SUMMARY = "compact_summary"
# The result of a tool call its run could not finish, as the model reads it.
STOPPED_TOOL = (
    "The tool call was stopped before it finished: the run was cancelled, interrupted or timed "
    "out, or its server stopped. It may have had part of its effect."
)


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


def tool_call_part(call_id: str, tool_name: str, input: JsonObject | str) -> ToolCallPart:
    return {"type": "tool-call", "toolCallId": call_id, "toolName": tool_name, "input": input}


def tool_result_part(call_id: str, tool_name: str, output: ToolResultOutput) -> ToolResultPart:
    return {"type": "tool-result", "toolCallId": call_id, "toolName": tool_name, "output": output}


def model_messages(history: list[MessageRecord]) -> list[ModelMessage]:
    """The role bodies a provider takes (system messages travel in the system prompt).

    Providers reject a tool call left without a result, and a result of no call before it. A
    stopped run answers its open calls itself; calls of a run whose process died mid-tool get
    an error result here, after the results their turn has, and stray results are left out.
    """
    out: list[ModelMessage] = []
    waiting: dict[str, str] = {}  # tool name by id, of the calls not answered yet
    in_results = False  # whether the waiting calls' results have begun
    for msg in history:
        if msg.role == "system":
            continue
        if msg.role == "tool" and isinstance(msg.content, list):
            content = [
                p
                for p in msg.content
                if p.get("type") != "tool-result" or waiting.pop(p.get("toolCallId"), None)
            ]
            if content:
                out.append({"role": "tool", "content": content})
            in_results = True
            continue
        if msg.role == "user" or in_results:
            _answer_waiting(out, waiting)
            in_results = False
        if msg.role == "assistant":
            if isinstance(msg.content, list):
                waiting.update(
                    (p["toolCallId"], p["toolName"])
                    for p in msg.content
                    if p.get("type") == "tool-call" and not p.get("providerExecuted")
                )
            out.append({"role": "assistant", "content": msg.content})
        else:  # a user message: runs store tool messages with parts, and no other role
            out.append({"role": "user", "content": msg.content})
    _answer_waiting(out, waiting)
    return out


def _answer_waiting(out: list[ModelMessage], waiting: dict[str, str]) -> None:
    for call_id, tool_name in waiting.items():
        part = tool_result_part(call_id, tool_name, {"type": "error-text", "value": STOPPED_TOOL})
        out.append({"role": "tool", "content": [part]})
    waiting.clear()
