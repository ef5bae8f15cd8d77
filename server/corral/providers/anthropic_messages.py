"""Anthropic Messages through the official SDK: streaming, tool use and extended thinking.

Thinking is streamed whenever the model thinks: by its own default, or because
`options["thinking"]` asks (`true` for adaptive thinking, a number for a token budget, or a raw
thinking object). Each thinking block's signature is passed on with its last delta, so the block
can be replayed in later turns as the API requires when tools are used.

Usage is normalised: `input_tokens` counts every prompt token, cached ones included (the API
counts cache reads and writes apart from its own `input_tokens`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
from anthropic.types import RawMessageStreamEvent

from corral.providers.anthropic_transcript import anthropic_messages, anthropic_tools
from corral.providers.base import (
    Finish,
    FinishReason,
    ModelRequest,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Usage,
)
from corral.providers.config import ProviderConfig
from corral.providers.content import PendingToolCall
from corral.providers.failures import connection_failure, http_failure, stream_failure
from corral.providers.sdk_client import SdkEnvironment, sdk_client_options

NAME = "anthropic"
# The API requires a cap; every current model can produce this much.
DEFAULT_MAX_TOKENS = 8192

SDK_ENVIRONMENT = SdkEnvironment(
    public_base_url="https://api.anthropic.com",
    custom_headers_variable="ANTHROPIC_CUSTOM_HEADERS",
    env_arguments=("webhook_key",),
    derived_headers=(),
    omit=anthropic.Omit,
)

_STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool-calls",
    "refusal": "content-filter",
}


class AnthropicMessagesProvider:
    def __init__(self, config: ProviderConfig) -> None:
        self._options = config.options
        self._client = anthropic.AsyncAnthropic(**sdk_client_options(config, SDK_ENVIRONMENT))

    async def aclose(self) -> None:
        await self._client.close()

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        try:
            stream = await self._client.messages.create(**self._params(request))
            async with stream:
                async for event in _events(stream):
                    yield event
        except anthropic.APIStatusError as exc:
            message = exc.api_message or exc.message
            if exc.status_code < 400:  # `event: error` inside a 200 stream
                raise stream_failure(NAME, exc.type, message) from None
            raise http_failure(NAME, exc.status_code, message) from None
        # Mid-stream, this SDK lets the transport's own errors through unwrapped.
        except (anthropic.APITimeoutError, httpx2.TimeoutException):
            raise connection_failure(NAME, timed_out=True) from None
        except (anthropic.APIConnectionError, httpx2.TransportError):
            raise connection_failure(NAME, timed_out=False) from None
        except (anthropic.APIError, ValueError) as exc:  # a malformed stream
            raise stream_failure(NAME, "malformed_stream", str(exc)) from None

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        options = {**self._options, **request.options}
        max_tokens = request.max_output_tokens or options.get("maxOutputTokens") or 0
        params: dict[str, Any] = {
            "model": request.model,
            "messages": anthropic_messages(request.messages),
            "stream": True,
        }
        if request.system:
            params["system"] = request.system
        if request.tools:
            params["tools"] = anthropic_tools(request.tools)
        if options.get("promptCaching", True):
            # Marks the last cacheable block: each agent step re-reads the previous prefix.
            params["cache_control"] = {"type": "ephemeral"}
        if thinking := _thinking(options.get("thinking")):
            params["thinking"] = thinking
            # The thinking budget is part of max_tokens and must stay below it.
            budget = int(thinking.get("budget_tokens", 0))
            if budget >= (max_tokens or DEFAULT_MAX_TOKENS):
                max_tokens = budget + DEFAULT_MAX_TOKENS
        params["max_tokens"] = max_tokens or DEFAULT_MAX_TOKENS
        # This SDK's Messages API has no temperature parameter: request.temperature is not sent.
        return params


def _thinking(value: Any) -> dict[str, Any] | None:
    if value is True:
        return {"type": "adaptive"}
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return {"type": "enabled", "budget_tokens": value}
    if isinstance(value, dict):
        return value
    return None  # the model's own default


async def _events(
    events: anthropic.AsyncStream[RawMessageStreamEvent],
) -> AsyncIterator[StreamEvent]:
    calls: dict[int, PendingToolCall] = {}
    stop_reason: str | None = None
    tokens = {"input": 0, "output": 0, "cache_read": 0, "cache_write": 0}
    async for event in events:
        if event.type == "message_start":
            _count(tokens, event.message.usage)
        elif event.type == "content_block_start" and event.content_block.type == "tool_use":
            block = event.content_block
            calls[event.index] = PendingToolCall(block.id, block.name)
        elif event.type == "content_block_delta":
            delta = event.delta
            if delta.type == "text_delta":
                yield TextDelta(delta.text)
            elif delta.type == "thinking_delta":
                yield ReasoningDelta(delta.thinking)
            elif delta.type == "signature_delta":
                yield ReasoningDelta("", signature=delta.signature)
            elif delta.type == "input_json_delta" and event.index in calls:
                calls[event.index].arguments += delta.partial_json
        elif event.type == "content_block_stop" and event.index in calls:
            yield calls.pop(event.index).complete()
        elif event.type == "message_delta":
            stop_reason = event.delta.stop_reason
            _count(tokens, event.usage)
    usage = Usage(
        input_tokens=tokens["input"] + tokens["cache_read"] + tokens["cache_write"],
        output_tokens=tokens["output"],
        cache_read_tokens=tokens["cache_read"],
        cache_write_tokens=tokens["cache_write"],
    )
    yield Finish(_STOP_REASONS.get(stop_reason or "", "other"), usage)


def _count(tokens: dict[str, int], usage: Any) -> None:
    """Take the counts a usage object carries: `message_delta` counts are cumulative and may
    leave some out, so absent ones keep their value from `message_start`."""
    for key, field in (
        ("input", "input_tokens"),
        ("output", "output_tokens"),
        ("cache_read", "cache_read_input_tokens"),
        ("cache_write", "cache_creation_input_tokens"),
    ):
        value = getattr(usage, field, None)
        if value is not None:
            tokens[key] = value
