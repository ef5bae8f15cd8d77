"""The one interface every model provider implements.

A request carries the transcript in Corral's provider-neutral shape, the message bodies of
docs/contract.md#message-bodies (`{"role": "user", "content": "hi"}`, assistant `tool-call` parts,
`tool` messages with `tool-result` parts, typed in `corral.providers.transcript_types`), so the
agent loop never sees a provider's wire format.
A provider turns one request into a stream of events: text and reasoning deltas as they
arrive, each tool call once its input is complete, and one `Finish` with the usage.

An event's text may hold surrogates (an SDK's JSON parser makes one of an escaped `\\ud800` in
the provider's stream), which nothing could store: `well_formed` replaces them with U+FFFD
(`corral.surrogates`), and the shared streaming path (`corral.providers.retry`) applies it to
every event of every provider. A `ProviderError`'s message is made storable the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from corral.providers.transcript_types import ModelMessage
from corral.surrogates import storable

FinishReason = Literal["stop", "tool-calls", "length", "content-filter", "other"]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model: `parameters` is a JSON Schema object."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ModelRequest:
    model: str  # the provider's own model name
    messages: list[ModelMessage]  # role bodies, oldest first; no system messages
    system: str | None = None
    tools: list[ToolSpec] = field(default_factory=list)
    max_output_tokens: int | None = None
    temperature: float | None = None
    # Free-form hints for the provider, e.g. the scripted model's script.
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    def as_json(self) -> dict[str, int]:
        return {
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "cacheReadTokens": self.cache_read_tokens,
            "cacheWriteTokens": self.cache_write_tokens,
        }


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str
    # Anthropic signs each thinking block; the signature arrives with the block's last delta and
    # must be replayed verbatim (`providerOptions.anthropic.signature` on the reasoning part).
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete tool call: `input` is the parsed JSON object the model produced, or the raw
    text of arguments that are not one, with `input_error` saying what is wrong with them (the
    call then gets that error as its result, and the model may try again)."""

    tool_call_id: str
    tool_name: str
    input: dict[str, Any] | str
    input_error: str | None = None


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason
    usage: Usage = Usage()


StreamEvent = TextDelta | ReasoningDelta | ToolCall | Finish


def well_formed(event: StreamEvent) -> StreamEvent:
    """`event` with `storable` text: the same event when it had no surrogates, as nearly always.
    A parsed tool input holds none: orjson refuses them, leaving the raw arguments as the input."""
    replaced: dict[str, Any] = {}
    for name in event.__slots__:
        value = getattr(event, name)
        if isinstance(value, str) and (text := storable(value)) is not value:
            replaced[name] = text
    return dataclasses.replace(event, **replaced) if replaced else event


class ProviderError(Exception):
    """A provider call that failed. `retryable` marks transient failures (429, 5xx, timeouts,
    dropped connections) that may be retried when nothing has been streamed yet."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        message = storable(message)  # often the provider's own words, parsed from its JSON
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status


class ModelProvider(Protocol):
    """One configured model endpoint (provider + key + base URL)."""

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Yield the response as it arrives, ending with exactly one `Finish`. Raises
        `ProviderError` for any failure of the provider (never the SDK's own exceptions)."""
        ...

    async def aclose(self) -> None: ...
