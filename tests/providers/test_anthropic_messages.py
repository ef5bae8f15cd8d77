"""The Anthropic Messages provider through the real SDK against the fake Anthropic server."""

from __future__ import annotations

from typing import Any

from corral.providers.anthropic_messages import DEFAULT_MAX_TOKENS
from corral.providers.base import ModelRequest, ReasoningDelta, ToolCall, ToolSpec, Usage
from corral.testing.fake_anthropic import FakeAnthropic
from corral.testing.fake_provider import FakeReply, FakeToolCall, FakeUsage

from .conftest import PNG, TRANSCRIPT, MakeProvider, ask, calls, collect, finish, reasoning, texts

LS = ToolSpec("LS", "List a directory", {"type": "object", "properties": {"path": {}}})


def tool_use(call_id: str, name: str, input_: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": input_}


async def test_streams_text_with_system_and_defaults(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
):
    fake_anthropic.reply("Hello from Claude")
    provider = make_provider("anthropic", fake_anthropic.base_url)

    events = await collect(provider.stream(ask("Hi", system="Be brief.", tools=[LS])))

    assert texts(events) == ["Hello ", "from ", "Claude"]
    assert finish(events).reason == "stop"
    [received] = fake_anthropic.requests
    assert received.path == "/v1/messages"
    assert "sk-test" in (
        received.headers.get("authorization", "") + received.headers.get("x-api-key", "")
    )
    body = received.body
    assert (body["system"], body["max_tokens"], body["stream"]) == (
        "Be brief.",
        DEFAULT_MAX_TOKENS,
        True,
    )
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    assert body["tools"] == [
        {"name": "LS", "description": "List a directory", "input_schema": LS.parameters}
    ]
    assert body["cache_control"] == {"type": "ephemeral"}
    assert "thinking" not in body


async def test_tool_use_from_input_json_fragments(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
):
    fake_anthropic.reply(
        FakeReply(
            text="Listing.",
            tool_calls=[
                FakeToolCall("LS", {"path": "src"}, "toolu_1"),
                FakeToolCall("Read", {"path": "README.md", "offset": 3}, "toolu_2"),
            ],
            fragment_chars=4,
        )
    )
    provider = make_provider("anthropic", fake_anthropic.base_url)

    events = await collect(provider.stream(ask(tools=[LS])))

    assert calls(events) == [
        ToolCall("toolu_1", "LS", {"path": "src"}),
        ToolCall("toolu_2", "Read", {"path": "README.md", "offset": 3}),
    ]
    assert finish(events).reason == "tool-calls"


async def test_thinking_streams_as_reasoning_with_its_signature(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
):
    fake_anthropic.reply(
        FakeReply(reasoning="First, list files.", signature="sig-xyz", text="Here."),
        "Again.",
    )
    budgeted = make_provider("anthropic", fake_anthropic.base_url, thinking=10_000)
    adaptive = make_provider("anthropic", fake_anthropic.base_url)

    events = await collect(budgeted.stream(ask()))
    await collect(adaptive.stream(ask(options={"thinking": True})))

    assert reasoning(events) == [
        ReasoningDelta("First, "),
        ReasoningDelta("list "),
        ReasoningDelta("files."),
        ReasoningDelta("", signature="sig-xyz"),
    ]
    assert texts(events) == ["Here."]
    first, second = (r.body for r in fake_anthropic.requests)
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 10_000}
    assert first["max_tokens"] > 10_000  # the budget must stay below the cap
    assert second["thinking"] == {"type": "adaptive"}


async def test_multi_turn_transcript_on_the_wire(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
):
    provider = make_provider("anthropic", fake_anthropic.base_url)

    await collect(provider.stream(ModelRequest(model="claude-x", messages=TRANSCRIPT)))

    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    assert fake_anthropic.requests[0].body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Look at this"}, image]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "I should read both.", "signature": "sig-1"},
                {"type": "text", "text": "Reading both."},
                tool_use("c1", "Read", {"path": "a"}),
                tool_use("c2", "Grep", {"re": "("}),
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "alpha"},
                {
                    "type": "tool_result",
                    "tool_use_id": "c2",
                    "content": '{"error": "bad pattern"}',
                    "is_error": True,
                },
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "a is alpha."}]},
        {"role": "user", "content": [{"type": "text", "text": "Now the chart."}]},
        {"role": "assistant", "content": [tool_use("c3", "Read", {"path": "c"})]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "c3",
                    "content": [{"type": "text", "text": "chart.png"}, image],
                }
            ],
        },
    ]


async def test_results_and_following_user_text_share_a_turn_and_unsigned_thinking_is_dropped(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
):
    provider = make_provider("anthropic", fake_anthropic.base_url)
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "List it"},
        {"role": "assistant", "content": [{"type": "reasoning", "text": "from another model"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool-call", "toolCallId": "t", "toolName": "LS", "input": {}}],
        },
        {
            "role": "tool",
            "content": [
                {
                    "type": "tool-result",
                    "toolCallId": "t",
                    "toolName": "LS",
                    "output": {"type": "execution-denied", "reason": "not allowed"},
                }
            ],
        },
        {"role": "user", "content": [{"type": "text", "text": "Why?"}]},
    ]

    await collect(provider.stream(ModelRequest(model="claude-x", messages=messages)))

    assert fake_anthropic.requests[0].body["messages"][1:] == [
        {"role": "assistant", "content": [tool_use("t", "LS", {})]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t",
                    "content": "Tool execution denied: not allowed",
                    "is_error": True,
                },
                {"type": "text", "text": "Why?"},
            ],
        },
    ]


async def test_usage_counts_cached_input(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
):
    fake_anthropic.reply(FakeReply(text="ok", usage=FakeUsage(100, 42, 2048, 512)))
    provider = make_provider("anthropic", fake_anthropic.base_url)

    events = await collect(provider.stream(ask()))

    assert finish(events).usage == Usage(100 + 2048 + 512, 42, 2048, 512)


async def test_output_cap_from_request_or_options(
    fake_anthropic: FakeAnthropic, make_provider: MakeProvider
):
    from_options = make_provider("anthropic", fake_anthropic.base_url, maxOutputTokens=2000)

    await collect(from_options.stream(ask()))
    await collect(from_options.stream(ask(max_output_tokens=300)))

    assert [r.body["max_tokens"] for r in fake_anthropic.requests] == [2000, 300]
