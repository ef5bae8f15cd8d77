"""Everything a run writes while it executes, each change in one write with the events that
announce it: model-call and tool-call steps, the assistant message streamed in place, tool-call
and tool-result messages (docs/contract.md#message-persistence,
docs/contract.md#events).

Tool-call and tool-result messages carry the call's state in their metadata, as OAH's clients
read it (its terminal UI shows a call as running until the call's message says otherwise):
`toolStatus` (`running` while the tool runs, then `completed` or `failed`), `toolSourceType`,
and `toolDurationMs` once it has ended. The call's message is updated, and announced again by
`message.completed`, in the write that stores the result.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, cast

from corral import clock
from corral.core.runs.transcript import STOPPED_TOOL, tool_call_part, tool_result_part
from corral.ids import new_id
from corral.providers.transcript_types import (
    AssistantPart,
    ReasoningPart,
    ToolResultOutput,
    ToolResultPart,
)
from corral.store import MessageRecord, RunRecord, RunStepRecord, Store, Tx
from corral.tools.registry import ToolOutcome


class Stoppable(Protocol):
    """Something a run has begun and must close when it is stopped (`RunJournal.abandon`)."""

    async def settle(self) -> None:
        """Let the writes it has in flight end first."""

    def stop(self, tx: Tx) -> None: ...


@dataclass
class RunJournal:
    store: Store
    run: RunRecord
    agent_name: str

    @property
    def session_id(self) -> str:
        assert self.run.session_id is not None
        return self.run.session_id

    def emit(self, tx: Tx, event: str, **data: Any) -> None:
        tx.append_event(
            self.session_id, self.run.id, event, {"runId": self.run.id, **data}, clock.now()
        )

    def new_message(self, role: str, content: str | list[Any], **metadata: Any) -> MessageRecord:
        return MessageRecord(
            id=new_id("msg"),
            session_id=self.session_id,
            run_id=self.run.id,
            role=role,
            content=content,
            origin="engine" if role == "assistant" else "tool",
            mode="prompt",
            metadata=metadata or None,
            created_at=clock.now(),
        )

    # -- steps ------------------------------------------------------------------------

    def step(self, step_type: str, name: str, input: Any) -> Step:
        """A step that starts now; it is stored by the first write that concerns it."""
        return Step(self, step_type, name, input, clock.now())

    def tool_step(
        self, call_id: str, tool_name: str, source_type: str, input: Any, *, answered: bool = True
    ) -> ToolStep:
        step = self.step(
            "tool_call",
            tool_name,
            {"toolCallId": call_id, "sourceType": source_type, "input": input},
        )
        return ToolStep(step, call_id, source_type, input, answered)

    async def abandon(
        self, opened: Sequence[Stoppable], deferred: Callable[[Tx], None] | None = None
    ) -> None:
        """The run was stopped (cancel, interrupt, timeout, shutdown): write what was left for a
        later write and close what is open, in one write: steps end `cancelled`, a tool call
        gets its error result, a streamed message its `message.completed`."""
        opened = list(opened)
        for item in opened:
            await item.settle()

        def write(tx: Tx) -> None:
            if deferred is not None:
                deferred(tx)
            for item in opened:
                item.stop(tx)

        await self.store.write(write)

    # -- the streamed assistant message -----------------------------------------------

    def text_stream(self, step: Step | None = None) -> TextStream:
        return TextStream(self, step)


@dataclass
class Step:
    journal: RunJournal
    step_type: str
    name: str
    input: Any
    started_at: datetime
    record: RunStepRecord | None = None
    closed: bool = False

    def store(self, tx: Tx) -> RunStepRecord:
        if self.record is None:
            self.record = tx.append_step(
                self.journal.run.id,
                step_type=self.step_type,
                status="running",
                name=self.name,
                agent_name=self.journal.agent_name,
                input=self.input,
                started_at=self.started_at,
            )
        return self.record

    def close(self, tx: Tx, status: str, output: Any) -> None:
        if not self.closed:
            self.closed = True
            tx.update_step(
                replace(self.store(tx), status=status, output=output, ended_at=clock.now())
            )

    async def settle(self) -> None:
        return None

    def stop(self, tx: Tx) -> None:
        self.close(tx, "cancelled", None)


@dataclass
class ToolStep:
    """A tool call: its `tool_call` step, opened by `tool.started` and closed by `tool.completed`
    or `tool.failed`. A call the model made (`answered`) also gets its result stored as a
    `tool` message for the model, even when the run is stopped: providers reject a transcript
    with a call left unanswered."""

    step: Step
    call_id: str
    source_type: str
    input: Any
    answered: bool
    started: bool = False
    call_message: MessageRecord | None = None  # stored by `start` when `answered`

    @property
    def tool_name(self) -> str:
        return self.step.name

    def start(self, tx: Tx) -> None:
        """Open the step; a call the model made is stored first, as an assistant message of
        its own, running."""
        self.started = True
        self.step.store(tx)
        j = self.step.journal
        if self.answered:
            part = tool_call_part(self.call_id, self.tool_name, self.input)
            self.call_message = j.new_message("assistant", [part], **self._state("running"))
            tx.insert_message(self.call_message)
            self._announce(tx, self.call_message)
        j.emit(tx, "tool.started", **self._about(), input=self.input, metadata={})

    def result_part(self, output: dict[str, Any]) -> ToolResultPart:
        # A tool's outcome holds a ToolResultOutput (`corral.tools.base.ToolResult`); an
        # action's holds its command's result, but an action's call is never `answered`.
        return tool_result_part(self.call_id, self.tool_name, cast(ToolResultOutput, output))

    def finish(
        self, tx: Tx, outcome: ToolOutcome, *, status: str | None = None, step_output: Any = None
    ) -> None:
        """Record the outcome; `step_output` defaults to the output and the tool's metadata."""
        if self.step.closed:  # finished by a write that a stop of the run raced
            return
        j = self.step.journal
        if step_output is None:
            step_output = {"output": outcome.output, **outcome.metadata}
        self.step.close(tx, status or ("completed" if outcome.ok else "failed"), step_output)
        about = {**self._about(), "durationMs": round(outcome.duration_ms, 3)}
        if outcome.ok:
            j.emit(
                tx,
                "tool.completed",
                output=outcome.output,
                metadata={**outcome.metadata, "toolStatus": "completed"},
                **about,
            )
        else:
            j.emit(
                tx,
                "tool.failed",
                errorCode=outcome.error_code,
                errorMessage=outcome.error_message,
                metadata={**outcome.metadata, "toolStatus": "failed"},
                **about,
            )
        if self.answered:
            state = self._state("completed" if outcome.ok else "failed", outcome.duration_ms)
            if self.call_message is not None:
                merged = {**(self.call_message.metadata or {}), **state}
                self.call_message = replace(self.call_message, metadata=merged)
                tx.update_message(self.call_message)
                self._announce(tx, self.call_message)
            msg = j.new_message("tool", [self.result_part(outcome.output)], **state)
            tx.insert_message(msg)
            self._announce(tx, msg, toolName=self.tool_name, toolCallId=self.call_id)

    async def settle(self) -> None:
        return None

    def stop(self, tx: Tx) -> None:
        if self.started:  # a call never announced has nothing to answer
            elapsed_ms = (clock.now() - self.step.started_at).total_seconds() * 1000
            stopped = ToolOutcome.failure("tool_cancelled", STOPPED_TOOL, elapsed_ms)
            self.finish(tx, stopped, status="cancelled")

    def _state(self, status: str, duration_ms: float | None = None) -> dict[str, Any]:
        """The call's state as its messages' metadata carries it."""
        state: dict[str, Any] = {"toolStatus": status, "toolSourceType": self.source_type}
        if duration_ms is not None:
            state["toolDurationMs"] = round(duration_ms, 3)
        return state

    def _announce(self, tx: Tx, msg: MessageRecord, **extra: Any) -> None:
        data = {"messageId": msg.id, "content": msg.content, **extra, "metadata": msg.metadata}
        self.step.journal.emit(tx, "message.completed", **data)

    def _about(self) -> dict[str, Any]:
        return {
            "sessionId": self.step.journal.session_id,
            "toolCallId": self.call_id,
            "toolName": self.tool_name,
            "sourceType": self.source_type,
        }


class TextStream:
    """The assistant message of one model call, written while the model streams it.

    Deltas that arrive while a write is in flight are coalesced into the next write, so a fast
    model costs few transactions and a slow one is forwarded token by token (`message.delta`).
    """

    def __init__(self, journal: RunJournal, step: Step | None) -> None:
        self.journal = journal
        self.step = step  # stored with the first delta, when it is not yet
        self.text = ""
        self.reasoning = ""
        self.reasoning_signature: str | None = None
        self.message: MessageRecord | None = None
        self._unsent = ""
        self._reasoning_dirty = False
        self._flushing: asyncio.Task[None] | None = None
        self._writing = False  # whether the flush task has begun (it may not be cancelled then)

    def push_text(self, text: str) -> None:
        self.text += text
        self._unsent += text
        self._kick()

    def push_reasoning(self, text: str, signature: str | None = None) -> None:
        self.reasoning += text
        self.reasoning_signature = signature or self.reasoning_signature
        self._reasoning_dirty = True
        self._kick()

    def parts(self) -> list[AssistantPart]:
        parts: list[AssistantPart] = []
        if self.reasoning:
            part: ReasoningPart = {"type": "reasoning", "text": self.reasoning}
            if self.reasoning_signature:
                part["providerOptions"] = {"anthropic": {"signature": self.reasoning_signature}}
            parts.append(part)
        if self.text:
            parts.append({"type": "text", "text": self.text})
        return parts

    def _kick(self) -> None:
        if self._flushing is None or self._flushing.done():
            self._writing = False
            self._flushing = asyncio.create_task(self._flush_all())

    async def _flush_all(self) -> None:
        self._writing = True
        while self._unsent or self._reasoning_dirty:
            # taken here, on the loop, where the model's deltas are pushed
            await self.journal.store.write(functools.partial(self._store, taken=self._take()))

    def _take(self) -> tuple[str, bool, list[AssistantPart]]:
        delta, self._unsent = self._unsent, ""
        structured, self._reasoning_dirty = self._reasoning_dirty, False
        return delta, structured, self.parts()

    def write_pending(self, tx: Tx) -> None:
        """Store what was pushed since the last write (once the stream has ended)."""
        if self._unsent or self._reasoning_dirty:
            self._store(tx, self._take())

    def _store(self, tx: Tx, taken: tuple[str, bool, list[AssistantPart]]) -> None:
        delta, structured, parts = taken
        j = self.journal
        if self.step is not None:
            self.step.store(tx)
        if self.message is None:
            self.message = j.new_message("assistant", parts)
            tx.insert_message(self.message)
        else:
            self.message = replace(self.message, content=parts)
            tx.update_message(self.message)
        if structured:
            j.emit(tx, "message.delta", messageId=self.message.id, content=parts)
        else:
            j.emit(tx, "message.delta", messageId=self.message.id, delta=delta)

    async def settle(self) -> None:
        """Let a write in progress finish; one not begun yet is left to the caller's next
        write (`complete`), so a model that answered at once costs one write, not two."""
        task = self._flushing
        if task is None or task.done():
            return
        if self._writing:
            await asyncio.shield(task)
        else:
            task.cancel()

    def complete(self, tx: Tx, finish_reason: str | None, **metadata: Any) -> None:
        """Write what is pending, the final content and `message.completed` (inside the
        caller's write, after `settle`)."""
        self.write_pending(tx)
        if self.message is None:
            return
        final = dict(self.message.metadata or {}, **metadata) or None
        self.message = replace(self.message, content=self.parts(), metadata=final)
        tx.update_message(self.message)
        data: dict[str, Any] = {"messageId": self.message.id, "content": self.message.content}
        if finish_reason is not None:
            data["finishReason"] = finish_reason
        if final:
            data["metadata"] = final
        self.journal.emit(tx, "message.completed", **data)

    def stop(self, tx: Tx) -> None:
        """End the message where the stopped model left it (after `settle`)."""
        self.complete(tx, None)
