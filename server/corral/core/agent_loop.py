"""The agent loop of one message run: stream the model, run the tools it asks for (in parallel
when it asks for several), feed the results back, and stop on a final answer or after the
agent's `maxSteps` model calls. A failing tool becomes an error result for the model; only a
model failure fails the run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from corral.core.run_journal import RunJournal, Step, TextStream
from corral.core.run_lifecycle import Ending
from corral.providers.base import (
    Finish,
    ModelProvider,
    ModelRequest,
    ProviderError,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    Usage,
)
from corral.providers.retry import stream_with_retry
from corral.store import Tx
from corral.tools.base import Tool, ToolContext
from corral.tools.registry import ToolOutcome, invoke


@dataclass
class AgentTurn:
    """Everything one run's loop needs, resolved before it starts."""

    journal: RunJournal
    provider: ModelProvider
    provider_name: str
    request: ModelRequest  # the first request: system prompt, history, tools
    tools: dict[str, Tool]
    tool_context: ToolContext
    max_steps: int
    retry_attempts: int = 4
    usage: Usage = field(default_factory=Usage)
    open_steps: list[Step] = field(default_factory=list)
    # Changes left to the next write (the end of a model call joins the write that follows
    # it: the tool calls', or the run's end), so a turn costs one write fewer.
    deferred: list[Callable[[Tx], None]] = field(default_factory=list)

    def defer(self, change: Callable[[Tx], None]) -> None:
        self.deferred.append(change)

    def take_deferred(self) -> Callable[[Tx], None]:
        changes, self.deferred = self.deferred, []

        def apply(tx: Tx) -> None:
            for change in changes:
                change(tx)

        return apply


@dataclass
class _ModelReply:
    stream: TextStream
    calls: list[ToolCall]
    finish: Finish


async def run_agent(turn: AgentTurn) -> Ending:
    messages = list(turn.request.messages)
    try:
        for _ in range(turn.max_steps):
            reply = await _call_model(turn, messages)
            messages.extend(_assistant_messages(reply))
            if not reply.calls:
                return _completed(turn, reply.finish.reason)
            messages.extend(await _run_tools(turn, reply.calls))
        return _completed(turn, "max-steps", stopReason="max_steps")
    except ProviderError as exc:
        return Ending("failed", "model_stream_failed", exc.message,
                      metadata={"usage": turn.usage.as_json()},
                      prelude=turn.take_deferred())  # fmt: skip
    except asyncio.CancelledError:
        await asyncio.shield(turn.journal.abandon(turn.take_deferred(), turn.open_steps))
        raise


def _completed(turn: AgentTurn, reason: str, **details: Any) -> Ending:
    return Ending("completed", metadata={"usage": turn.usage.as_json(), **details},
                  details={"finishReason": reason, **details},
                  prelude=turn.take_deferred())  # fmt: skip


async def _call_model(turn: AgentTurn, messages: list[dict[str, Any]]) -> _ModelReply:
    j, req = turn.journal, turn.request
    step = j.step("model_call", req.model, {
        "provider": turn.provider_name, "model": req.model, "messageCount": len(messages),
        "tools": [t.name for t in req.tools],
    })  # fmt: skip
    turn.open_steps.append(step)
    stream, calls = j.text_stream(step), []
    finish = Finish("other")
    request = ModelRequest(model=req.model, messages=messages, system=req.system,
                           tools=req.tools, max_output_tokens=req.max_output_tokens,
                           temperature=req.temperature, options=req.options)  # fmt: skip
    try:
        async for event in stream_with_retry(turn.provider, request,
                                             attempts=turn.retry_attempts):  # fmt: skip
            if isinstance(event, TextDelta):
                stream.push_text(event.text)
            elif isinstance(event, ReasoningDelta):
                stream.push_reasoning(event.text, getattr(event, "signature", None))
            elif isinstance(event, ToolCall):
                calls.append(event)
            else:
                finish = event
    except ProviderError as exc:
        error = exc
        await stream.settle()
        turn.defer(lambda tx: _fail_step(tx, step, stream, error))
        turn.open_steps.remove(step)
        raise
    await stream.settle()
    turn.usage += finish.usage
    output = {"finishReason": finish.reason, "usage": finish.usage.as_json(), "text": stream.text,
              "toolCalls": [{"toolCallId": c.tool_call_id, "toolName": c.tool_name,
                             "input": c.input} for c in calls]}  # fmt: skip
    final_reason = None if calls else finish.reason

    def conclude(tx: Tx) -> None:
        stream.complete(tx, final_reason)
        step.close(tx, "completed", output)

    turn.defer(conclude)
    turn.open_steps.remove(step)
    return _ModelReply(stream, calls, finish)


def _fail_step(tx: Tx, step: Step, stream: TextStream, exc: ProviderError) -> None:
    stream.complete(tx, "error")
    step.close(tx, "failed", {"error": exc.message, "status": exc.status})


def _assistant_messages(reply: _ModelReply) -> list[dict[str, Any]]:
    out = []
    if parts := reply.stream.parts():
        out.append({"role": "assistant", "content": parts})
    out.extend({"role": "assistant", "content": [_call_part(c)]} for c in reply.calls)
    return out


def _call_part(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool-call", "toolCallId": call.tool_call_id, "toolName": call.tool_name,
            "input": call.input}  # fmt: skip


async def _run_tools(turn: AgentTurn, calls: list[ToolCall]) -> list[dict[str, Any]]:
    j = turn.journal
    steps = [j.step("tool_call", call.tool_name, {"toolCallId": call.tool_call_id,
                                                  "sourceType": "native", "input": call.input})
             for call in calls]  # fmt: skip

    earlier = turn.take_deferred()

    def start(tx: Tx) -> None:
        earlier(tx)
        for call, step in zip(calls, steps, strict=True):
            part = _call_part(call)
            msg = j.new_message("assistant", [part])
            tx.insert_message(msg)
            j.emit(tx, "message.completed", messageId=msg.id, content=msg.content)
            step.store(tx)
            j.emit(tx, "tool.started", sessionId=j.session_id, toolCallId=call.tool_call_id,
                   toolName=call.tool_name, sourceType="native", input=call.input,
                   metadata={})  # fmt: skip

    await j.store.write(start)
    turn.open_steps.extend(steps)
    pairs = zip(calls, steps, strict=True)
    return list(await asyncio.gather(*(_run_tool(turn, call, step) for call, step in pairs)))


async def _run_tool(turn: AgentTurn, call: ToolCall, step: Step) -> dict[str, Any]:
    tool = turn.tools.get(call.tool_name)
    if tool is None:
        outcome = ToolOutcome.failure("unknown_tool", f"there is no tool named {call.tool_name!r}")
    else:
        outcome = await invoke(tool, turn.tool_context, call.input)
    j = turn.journal
    part = {"type": "tool-result", "toolCallId": call.tool_call_id, "toolName": call.tool_name,
            "output": outcome.output}  # fmt: skip
    msg = j.new_message("tool", [part])
    common = {"sessionId": j.session_id, "toolCallId": call.tool_call_id,
              "toolName": call.tool_name, "sourceType": "native",
              "durationMs": round(outcome.duration_ms, 3)}  # fmt: skip
    status = "completed" if outcome.ok else "failed"

    def write(tx: Tx) -> None:
        tx.insert_message(msg)
        step.close(tx, status, {"output": outcome.output, **outcome.metadata})
        if outcome.ok:
            j.emit(tx, "tool.completed", output=outcome.output,
                   metadata={**outcome.metadata, "toolStatus": "completed"}, **common)  # fmt: skip
        else:
            j.emit(tx, "tool.failed", errorCode=outcome.error_code,
                   errorMessage=outcome.error_message, metadata=outcome.metadata,
                   **common)  # fmt: skip
        j.emit(tx, "message.completed", messageId=msg.id, content=msg.content,
               toolName=call.tool_name, toolCallId=call.tool_call_id)  # fmt: skip

    await j.store.write(write)
    turn.open_steps.remove(step)
    return {"role": "tool", "content": [part]}
