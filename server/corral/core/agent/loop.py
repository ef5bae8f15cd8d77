"""The agent loop of one message run: stream the model, run the tools it asks for (in parallel
when it asks for several), feed the results back, and stop on a final answer or after the
agent's `maxSteps` model calls. A failing tool becomes an error result for the model; only a
model failure fails the run. The agent in charge may change between turns (`AgentSwitch`, see
core/agent/seat.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from corral.core.agent.seat import AgentSeat
from corral.core.runs.hooks import RunHooks
from corral.core.runs.journal import RunJournal, Step, Stoppable, TextStream, ToolStep
from corral.core.runs.lifecycle import Ending
from corral.core.runs.transcript import tool_call_part
from corral.providers.base import (
    Finish,
    ProviderError,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    Usage,
)
from corral.providers.retry import stream_with_retry
from corral.providers.transcript_types import ModelMessage, ToolCallPart, ToolMessage
from corral.store import Tx
from corral.tools.base import ToolContext
from corral.tools.registry import ToolOutcome, invoke


@dataclass
class AgentTurn:
    """Everything one run's loop needs, resolved before it starts."""

    journal: RunJournal
    seat: AgentSeat  # the agent in charge: its model, system prompt and tools
    history: list[ModelMessage]  # the conversation up to the run's message
    tool_context: ToolContext
    hooks: RunHooks | None = None  # the workspace's tool hooks (core/runs/hooks.py)
    retry_attempts: int = 4
    usage: Usage = field(default_factory=Usage)
    # What a stop of the run must close: steps, the streaming message, tool calls.
    open_steps: list[Stoppable] = field(default_factory=list)
    # Changes left to the next write (the end of a model call joins the write that follows
    # it: the tool calls', or the run's end), so a turn costs one write fewer.
    deferred: list[Callable[[Tx], None]] = field(default_factory=list)

    def defer(self, change: Callable[[Tx], None]) -> None:
        self.deferred.append(change)

    def apply_deferred(self, tx: Tx) -> None:
        """Inside the write that runs first: a write cancelled before it ran leaves the
        changes to the next one (the stopped run's `abandon`)."""
        changes, self.deferred = self.deferred, []
        for change in changes:
            change(tx)


@dataclass
class _ModelReply:
    stream: TextStream
    calls: list[ToolCall]
    finish: Finish


async def run_agent(turn: AgentTurn) -> Ending:
    messages = list(turn.history)
    try:
        calls = 0  # model calls of the agent in charge
        while calls < turn.seat.agent.max_steps:
            reply = await _call_model(turn, messages)
            calls += 1
            messages.extend(_assistant_messages(reply))
            if not reply.calls:
                return _completed(turn, reply.finish.reason)
            messages.extend(await _run_tools(turn, reply.calls))
            if turn.seat.take_over():
                turn.journal.agent_name, calls = turn.seat.agent.name, 0
        return _completed(turn, "max-steps", stopReason="max_steps")
    except ProviderError as exc:
        return Ending(
            "failed",
            "model_stream_failed",
            exc.message,
            metadata={"usage": turn.usage.as_json()},
            prelude=turn.apply_deferred,
        )
    except asyncio.CancelledError:
        await asyncio.shield(turn.journal.abandon(turn.open_steps, turn.apply_deferred))
        raise


def _completed(turn: AgentTurn, reason: str, **details: Any) -> Ending:
    return Ending(
        "completed",
        metadata={"usage": turn.usage.as_json(), **details},
        details={"finishReason": reason, **details},
        prelude=turn.apply_deferred,
    )


async def _call_model(turn: AgentTurn, messages: list[ModelMessage]) -> _ModelReply:
    j, agent = turn.journal, turn.seat.agent
    request = agent.request_with(messages)
    step = j.step(
        "model_call",
        request.model,
        {
            "provider": agent.provider_name,
            "model": request.model,
            "messageCount": len(messages),
            "tools": [t.name for t in request.tools],
        },
    )
    stream, calls = j.text_stream(step), []
    turn.open_steps += (step, stream)
    finish = Finish("other")
    try:
        async for event in stream_with_retry(agent.provider, request, attempts=turn.retry_attempts):
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
        _closed(turn, step, stream)
        raise
    await stream.settle()
    turn.usage += finish.usage
    output = {
        "finishReason": finish.reason,
        "usage": finish.usage.as_json(),
        "text": stream.text,
        "toolCalls": [
            {"toolCallId": c.tool_call_id, "toolName": c.tool_name, "input": c.input} for c in calls
        ],
    }
    final_reason = None if calls else finish.reason

    def conclude(tx: Tx) -> None:
        stream.complete(tx, final_reason)
        step.close(tx, "completed", output)

    turn.defer(conclude)
    _closed(turn, step, stream)
    return _ModelReply(stream, calls, finish)


def _closed(turn: AgentTurn, *items: Stoppable) -> None:
    for item in items:
        turn.open_steps.remove(item)


def _fail_step(tx: Tx, step: Step, stream: TextStream, exc: ProviderError) -> None:
    stream.complete(tx, "error")
    step.close(tx, "failed", {"error": exc.message, "status": exc.status})


def _assistant_messages(reply: _ModelReply) -> list[ModelMessage]:
    out: list[ModelMessage] = []
    if parts := reply.stream.parts():
        out.append({"role": "assistant", "content": parts})
    out.extend({"role": "assistant", "content": [_call_part(c)]} for c in reply.calls)
    return out


def _call_part(call: ToolCall) -> ToolCallPart:
    return tool_call_part(call.tool_call_id, call.tool_name, call.input)


async def _run_tools(turn: AgentTurn, calls: list[ToolCall]) -> list[ToolMessage]:
    j, tools = turn.journal, turn.seat.agent.tools
    tool_steps = [
        j.tool_step(
            call.tool_call_id,
            call.tool_name,
            t.source_type if (t := tools.get(call.tool_name)) else "native",
            call.input,
        )
        for call in calls
    ]

    def start(tx: Tx) -> None:
        turn.apply_deferred(tx)
        for tool_step in tool_steps:
            tool_step.start(tx)

    # Open before the write: a stop that lands while it commits still answers the calls.
    turn.open_steps.extend(tool_steps)
    await j.store.write(start)
    pairs = zip(calls, tool_steps, strict=True)
    return list(await asyncio.gather(*(_run_tool(turn, call, ts) for call, ts in pairs)))


async def _run_tool(turn: AgentTurn, call: ToolCall, tool_step: ToolStep) -> ToolMessage:
    tool = turn.seat.agent.tools.get(call.tool_name)
    # Calls of the agent's own tools only: a hook's matcher never sees a name the model made up.
    hooks = turn.hooks if tool is not None else None
    if hooks is not None:
        await hooks.tool_started(tool_step)
    if call.input_error is not None:
        outcome = ToolOutcome.failure("invalid_tool_input", call.input_error)
    elif tool is None:
        outcome = ToolOutcome.failure("unknown_tool", f"there is no tool named {call.tool_name!r}")
    else:
        outcome = await invoke(
            tool, replace(turn.tool_context, tool_call_id=call.tool_call_id), call.input
        )
    await turn.journal.store.write(lambda tx: tool_step.finish(tx, outcome))
    _closed(turn, tool_step)
    if hooks is not None:
        await hooks.tool_finished(tool_step, outcome)
    return {"role": "tool", "content": [tool_step.result_part(outcome.output)]}
