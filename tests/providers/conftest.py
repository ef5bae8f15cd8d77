"""Fixtures of the provider tests: the fake provider servers on loopback ports, providers built
against them (closed afterwards), and helpers to read a stream of events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from corral.providers.base import (
    Finish,
    ModelProvider,
    ModelRequest,
    ProviderError,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
)
from corral.providers.config import ProviderConfig, ProviderName
from corral.providers.factory import build_provider
from corral.testing.fake_anthropic import FakeAnthropic
from corral.testing.fake_openai import FakeOpenAI
from corral.testing.fake_provider import FakeProviderServer

MakeProvider = Callable[..., ModelProvider]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
async def make_provider() -> AsyncIterator[MakeProvider]:
    made: list[ModelProvider] = []

    def make(
        provider: ProviderName,
        base_url: str | None,
        api_key: str | None = "sk-test",
        **options: Any,
    ) -> ModelProvider:
        config = ProviderConfig(provider, "model-x", base_url, api_key, {"timeoutSeconds": 10})
        config.options.update(options)
        made.append(build_provider(config))
        return made[-1]

    yield make
    for provider in made:
        await provider.aclose()


@pytest.fixture(params=["openai", "anthropic"])
def wire(request: pytest.FixtureRequest, make_provider: MakeProvider) -> Iterator[Wire]:
    """Each real provider against its fake: for behaviour both must share."""
    fake = FakeOpenAI() if request.param == "openai" else FakeAnthropic()
    with fake:
        yield Wire(fake, lambda **options: make_provider(request.param, fake.base_url, **options))


class Wire:
    def __init__(self, fake: FakeProviderServer, provider: Callable[..., ModelProvider]) -> None:
        self.fake = fake
        self.provider = provider


def ask(text: str = "Hello", **fields: Any) -> ModelRequest:
    return ModelRequest(model="model-x", messages=[{"role": "user", "content": text}], **fields)


async def collect(stream: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in stream]


def texts(events: list[StreamEvent]) -> list[str]:
    return [e.text for e in events if isinstance(e, TextDelta)]


def reasoning(events: list[StreamEvent]) -> list[ReasoningDelta]:
    return [e for e in events if isinstance(e, ReasoningDelta)]


def calls(events: list[StreamEvent]) -> list[ToolCall]:
    return [e for e in events if isinstance(e, ToolCall)]


def finish(events: list[StreamEvent]) -> Finish:
    assert isinstance(events[-1], Finish), events
    assert sum(isinstance(e, Finish) for e in events) == 1
    return events[-1]


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAfbLI3w=="

# A transcript in the stored shape (docs/contract.md#message-persistence): every tool call and
# result is its own message.
TRANSCRIPT: list[dict[str, Any]] = [
    {
        "role": "user",
        "content": [{"type": "text", "text": "Look at this"}, {"type": "image", "image": PNG}],
    },
    {
        "role": "assistant",
        "content": [
            {
                "type": "reasoning",
                "text": "I should read both.",
                "providerOptions": {"anthropic": {"signature": "sig-1"}},
            },
            {"type": "text", "text": "Reading both."},
        ],
    },
    {
        "role": "assistant",
        "content": [
            {"type": "tool-call", "toolCallId": "c1", "toolName": "Read", "input": {"path": "a"}}
        ],
    },
    {
        "role": "assistant",
        "content": [
            {"type": "tool-call", "toolCallId": "c2", "toolName": "Grep", "input": {"re": "("}}
        ],
    },
    {
        "role": "tool",
        "content": [
            {
                "type": "tool-result",
                "toolCallId": "c1",
                "toolName": "Read",
                "output": {"type": "text", "value": "alpha"},
            }
        ],
    },
    {
        "role": "tool",
        "content": [
            {
                "type": "tool-result",
                "toolCallId": "c2",
                "toolName": "Grep",
                "output": {"type": "error-json", "value": {"error": "bad pattern"}},
            }
        ],
    },
    {"role": "assistant", "content": "a is alpha."},
    {"role": "user", "content": "Now the chart."},
    {
        "role": "assistant",
        "content": [
            {"type": "tool-call", "toolCallId": "c3", "toolName": "Read", "input": {"path": "c"}}
        ],
    },
    {
        "role": "tool",
        "content": [
            {
                "type": "tool-result",
                "toolCallId": "c3",
                "toolName": "Read",
                "output": {
                    "type": "content",
                    "value": [
                        {"type": "text", "text": "chart.png"},
                        {"type": "image-data", "data": PNG, "mediaType": "image/png"},
                    ],
                },
            }
        ],
    },
]


async def failure(stream: AsyncIterator[StreamEvent]) -> tuple[list[StreamEvent], ProviderError]:
    """The events a stream yielded before it raised, and the error (it must raise one)."""
    events: list[StreamEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in stream:
            events.append(event)
    return events, caught.value
