"""Corral's built-in scripted model: deterministic answers, no key, no network.

It answers the demo when no provider key is configured, and tests and benchmarks drive the
runtime with it. Options (the model config's, overridden by the request's):

- `script`: a list of turns. The runtime puts there the `script` of the triggering user
  message's metadata, else the model config's own.
- `delayMs` (default 0): latency before every response, e.g. a 500 ms fake model.

The turn answered is the number of tool rounds (maximal runs of `tool` messages) since the last
user message: turn 0 answers the user, turn 1 answers the first tool results, and so on. A turn
is either a string, the text reply, or an object:

    {"text": "Reading it.",                    # streamed in word-sized chunks
     "reasoning": "The user wants...",         # streamed first, as reasoning
     "toolCalls": [{"name": "Read", "input": {"path": "a.txt"}, "id": "optional"}],
     "delayMs": 100,                           # added to the options' delayMs
     "chunkDelayMs": 50,                       # a pause between streamed chunks
     "error": {"message": "overloaded", "retryable": true}}  # fail instead of answering

A turn with tool calls finishes with "tool-calls", any other with "stop". Without a script, or
past its end, the model says what it is and echoes the user's last text. Token usage is an
estimate (4 characters a token) so it is deterministic too.

Its latency passes through `sleep` (asyncio.sleep unless given): a test hands it a clock of its
own to see the delays without waiting for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from corral.providers.base import (
    Finish,
    ModelRequest,
    ProviderError,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)
from corral.providers.config import ProviderConfig
from corral.providers.content import text_of
from corral.providers.transcript_types import ModelMessage

_WORDS = re.compile(r"\S*\s*")


@dataclass(frozen=True)
class ScriptedTurn:
    text: str = ""
    reasoning: str = ""
    tool_calls: list[tuple[str, dict[str, Any], str | None]] = field(default_factory=list)
    delay_ms: float = 0
    chunk_delay_ms: float = 0
    error: ProviderError | None = None


class ScriptedProvider:
    def __init__(
        self,
        config: ProviderConfig,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._options = config.options
        self._sleep = sleep

    async def aclose(self) -> None:
        return None

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        options = {**self._options, **request.options}
        turn = _turn(request.messages, options.get("script"))
        delay_ms = float(options.get("delayMs") or 0) + turn.delay_ms
        if delay_ms > 0:
            await self._sleep(delay_ms / 1000)
        if turn.error:
            raise turn.error
        deltas: list[StreamEvent] = [ReasoningDelta(c) for c in word_chunks(turn.reasoning)]
        deltas += [TextDelta(c) for c in word_chunks(turn.text)]
        for i, delta in enumerate(deltas):
            if i and turn.chunk_delay_ms > 0:
                await self._sleep(turn.chunk_delay_ms / 1000)
            yield delta
        prompt = (request.system or "") + json.dumps(request.messages)
        # Deterministic, yet distinct for every transcript: ids never repeat within a session.
        digest = hashlib.sha256(prompt.encode()).hexdigest()[:12]
        calls = [
            ToolCall(call_id or f"scripted_{digest}_{i}", name, input_)
            for i, (name, input_, call_id) in enumerate(turn.tool_calls)
        ]
        for call in calls:
            yield call
        answer = turn.reasoning + turn.text + "".join(json.dumps(c.input) for c in calls)
        usage = Usage(input_tokens=_tokens(prompt), output_tokens=_tokens(answer))
        yield Finish("tool-calls" if calls else "stop", usage)


def _turn(messages: list[ModelMessage], script: Any) -> ScriptedTurn:
    index = tool_rounds_since_user(messages)
    if script is not None and not isinstance(script, list):
        raise _invalid(f"the script must be a list of turns, not {type(script).__name__}")
    if not script or index >= len(script):
        return ScriptedTurn(text=_default_reply(messages))
    return parse_turn(script[index], index)


def tool_rounds_since_user(messages: list[ModelMessage]) -> int:
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    rounds, in_round = 0, False
    for message in messages[users[-1] + 1 if users else 0 :]:
        is_tool = message["role"] == "tool"
        if is_tool and not in_round:
            rounds += 1
        in_round = is_tool
    return rounds


def parse_turn(raw: Any, index: int) -> ScriptedTurn:
    if isinstance(raw, str):
        return ScriptedTurn(text=raw)
    if not isinstance(raw, dict):
        raise _invalid(f"turn {index} must be a string or an object")
    try:
        failure = None
        if error := raw.get("error"):
            failure = ProviderError(str(error["message"]), retryable=bool(error.get("retryable")))
        return ScriptedTurn(
            text=str(raw.get("text") or ""),
            reasoning=str(raw.get("reasoning") or ""),
            tool_calls=[
                (str(c["name"]), dict(c.get("input") or {}), c.get("id"))
                for c in raw.get("toolCalls") or []
            ],
            delay_ms=float(raw.get("delayMs") or 0),
            chunk_delay_ms=float(raw.get("chunkDelayMs") or 0),
            error=failure,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _invalid(f"turn {index}: {exc!r}") from None


def _default_reply(messages: list[ModelMessage]) -> str:
    said = next((text_of(m["content"]) for m in reversed(messages) if m["role"] == "user"), "")
    return (
        "I am Corral's scripted model: no model provider key is configured, so I answer from "
        f"a script, and without one I echo what you said. You said: {said.strip() or '(nothing)'}"
    )


def word_chunks(text: str) -> list[str]:
    """`text` in word-sized pieces that join back to it."""
    return [word for word in _WORDS.findall(text) if word]


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _invalid(why: str) -> ProviderError:
    return ProviderError(f"invalid scripted-model script: {why}", retryable=False)
