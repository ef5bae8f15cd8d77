"""The OpenAI chat-completions provider through the real SDK against the fake OpenAI server."""

from __future__ import annotations

import pytest

from corral.providers.base import ModelRequest, ToolCall, ToolSpec, Usage
from corral.testing.fake_openai import FakeOpenAI
from corral.testing.fake_provider import FakeReply, FakeToolCall, FakeUsage

from .conftest import PNG, TRANSCRIPT, MakeProvider, ask, calls, collect, finish, reasoning, texts

READ = ToolSpec("Read", "Read a file", {"type": "object", "properties": {"path": {}}})


async def test_streams_text_in_chunks(fake_openai: FakeOpenAI, make_provider: MakeProvider):
    fake_openai.reply("The quick brown fox")
    provider = make_provider("openai", fake_openai.base_url)

    events = await collect(provider.stream(ask("Hi", system="Be brief.")))

    assert texts(events) == ["The ", "quick ", "brown ", "fox"]
    assert finish(events).reason == "stop"
    [received] = fake_openai.requests
    assert received.path == "/v1/chat/completions"
    assert received.headers["authorization"] == "Bearer sk-test"
    assert received.body["stream"] is True
    assert received.body["stream_options"] == {"include_usage": True}
    assert received.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert "tools" not in received.body


async def test_one_tool_call_from_argument_fragments(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
):
    fake_openai.reply(
        FakeReply(
            text="Let me look.",
            tool_calls=[FakeToolCall("Read", {"path": "src/main.py", "limit": 20}, "call_a")],
            fragment_chars=3,
        )
    )
    provider = make_provider("openai", fake_openai.base_url)

    events = await collect(provider.stream(ask(tools=[READ])))

    assert calls(events) == [ToolCall("call_a", "Read", {"path": "src/main.py", "limit": 20})]
    assert finish(events).reason == "tool-calls"
    assert fake_openai.requests[0].body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "Read",
                "description": "Read a file",
                "parameters": READ.parameters,
            },
        }
    ]


async def test_parallel_tool_calls_in_order(fake_openai: FakeOpenAI, make_provider: MakeProvider):
    wanted = [
        FakeToolCall("Read", {"path": "a"}, "c1"),
        FakeToolCall("Grep", {"pattern": "def \\w+", "glob": "*.py"}, "c2"),
        FakeToolCall("LS", {}, "c3"),
    ]
    fake_openai.reply(FakeReply(tool_calls=wanted, fragment_chars=2))
    provider = make_provider("openai", fake_openai.base_url)

    events = await collect(provider.stream(ask(tools=[READ])))

    assert calls(events) == [ToolCall(c.id or "", c.name, c.input) for c in wanted]
    assert texts(events) == []


async def test_multi_turn_transcript_on_the_wire(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
):
    provider = make_provider("openai", fake_openai.base_url)
    request = ModelRequest(model="gpt-x", messages=TRANSCRIPT, system="Be brief.", tools=[READ])

    await collect(provider.stream(request))

    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}

    def call(call_id: str, name: str, arguments: str) -> dict[str, object]:
        return {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }

    assert fake_openai.requests[0].body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Look at this"}, image]},
        {
            "role": "assistant",
            "content": "Reading both.",
            "tool_calls": [call("c1", "Read", '{"path": "a"}'), call("c2", "Grep", '{"re": "("}')],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "alpha"},
        {"role": "tool", "tool_call_id": "c2", "content": '{"error": "bad pattern"}'},
        {"role": "assistant", "content": "a is alpha."},
        {"role": "user", "content": "Now the chart."},
        {"role": "assistant", "content": None, "tool_calls": [call("c3", "Read", '{"path": "c"}')]},
        {"role": "tool", "tool_call_id": "c3", "content": "chart.png"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Media returned by the tool calls above:"}, image],
        },
    ]


async def test_usage_with_cached_tokens(fake_openai: FakeOpenAI, make_provider: MakeProvider):
    fake_openai.reply(FakeReply(text="ok", usage=FakeUsage(1200, 30, 1024, 0)))
    provider = make_provider("openai", fake_openai.base_url)

    events = await collect(provider.stream(ask()))

    assert finish(events).usage == Usage(1200, 30, 1024, 0)


async def test_output_cap_and_temperature(fake_openai: FakeOpenAI, make_provider: MakeProvider):
    openai = make_provider("openai", fake_openai.base_url)
    compatible = make_provider("openai-compatible", fake_openai.base_url, maxOutputTokens=64)

    await collect(openai.stream(ask(max_output_tokens=100, temperature=0.2)))
    await collect(compatible.stream(ask()))

    first, second = (r.body for r in fake_openai.requests)
    assert (first["max_completion_tokens"], first["temperature"]) == (100, 0.2)
    assert second["max_tokens"] == 64
    assert "max_tokens" not in first and "max_completion_tokens" not in second


async def test_compatible_server_with_its_own_url_and_no_key(
    make_provider: MakeProvider, monkeypatch: pytest.MonkeyPatch
):
    # The process's OpenAI variables must never travel to a third-party server.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-process-secret")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-process-secret")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Gateway-Token: gw-process-secret")
    with FakeOpenAI() as local:
        local.reply(FakeReply(reasoning="Thinking it over.", text="Done."))
        provider = make_provider("openai-compatible", local.base_url, api_key=None)

        events = await collect(provider.stream(ask()))

    assert "".join(r.text for r in reasoning(events)) == "Thinking it over."
    assert "".join(texts(events)) == "Done."
    assert local.carrying("process-secret") == []
    assert local.requests[0].body["model"] == "model-x"


async def test_a_compatible_server_ending_tool_calls_with_stop(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
):
    fake_openai.reply(FakeReply(tool_calls=[FakeToolCall("LS", {})], finish_reason="stop"))
    provider = make_provider("openai-compatible", fake_openai.base_url)

    events = await collect(provider.stream(ask()))

    assert [c.tool_name for c in calls(events)] == ["LS"]
    assert finish(events).reason == "tool-calls"
