"""The fake servers speak the providers' wire well enough for the SDKs' own helpers: non-stream
responses, the stream accumulators, model listing, auth, echo, drops, env-var wiring."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from corral.providers.base import ModelProvider
from corral.providers.config import ProviderConfig
from corral.providers.factory import build_provider
from corral.testing.fake_anthropic import FakeAnthropic
from corral.testing.fake_openai import FakeOpenAI
from corral.testing.fake_provider import FakeReply, FakeToolCall, FakeUsage

from .conftest import ask, collect, texts

USER = [{"role": "user", "content": "Weather in Paris?"}]
WEATHER = FakeToolCall("get_weather", {"city": "Paris"}, "call_w")


def test_openai_non_streaming_completion(fake_openai: FakeOpenAI):
    fake_openai.reply(FakeReply(text="Checking.", tool_calls=[WEATHER], usage=FakeUsage(9, 4)))
    client = openai.OpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)

    completion = client.chat.completions.create(model="gpt-fake", messages=USER)

    message = completion.choices[0].message
    assert message.content == "Checking."
    assert message.tool_calls and message.tool_calls[0].function.arguments == '{"city": "Paris"}'
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.usage and completion.usage.total_tokens == 13
    assert [m.id for m in client.models.list()] == ["gpt-fake"]


def test_openai_stream_helper_reassembles(fake_openai: FakeOpenAI):
    fake_openai.reply(FakeReply(text="Sunny soon.", tool_calls=[WEATHER], fragment_chars=2))
    client = openai.OpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)

    with client.chat.completions.stream(model="gpt-fake", messages=USER) as stream:
        final = stream.get_final_completion()

    message = final.choices[0].message
    assert message.content == "Sunny soon."
    assert message.tool_calls and message.tool_calls[0].function.name == "get_weather"


def test_anthropic_non_streaming_message(fake_anthropic: FakeAnthropic):
    fake_anthropic.reply(FakeReply(reasoning="Hmm.", text="Checking.", tool_calls=[WEATHER]))
    client = anthropic.Anthropic(api_key="k", base_url=fake_anthropic.base_url, max_retries=0)

    message = client.messages.create(model="claude-fake", max_tokens=100, messages=USER)

    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    assert message.content[2].input == {"city": "Paris"}
    assert message.stop_reason == "tool_use"


def test_anthropic_stream_helper_reassembles(fake_anthropic: FakeAnthropic):
    fake_anthropic.reply(FakeReply(text="Sunny soon.", tool_calls=[WEATHER], fragment_chars=3))
    client = anthropic.Anthropic(api_key="k", base_url=fake_anthropic.base_url, max_retries=0)

    with client.messages.stream(model="claude-fake", max_tokens=100, messages=USER) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert streamed == "Sunny soon."
    assert final.content[-1].input == {"city": "Paris"}


def test_a_required_key_in_either_header():
    with FakeAnthropic(api_key="right") as fake:
        wrong = anthropic.Anthropic(api_key="wrong", base_url=fake.base_url, max_retries=0)
        with pytest.raises(anthropic.AuthenticationError):
            wrong.messages.create(model="m", max_tokens=5, messages=USER)
        by_header = httpx.post(
            f"{fake.base_url}/v1/messages",
            headers={"x-api-key": "right"},
            json={"model": "m", "max_tokens": 5, "messages": USER},
        )

    assert by_header.status_code == 200
    assert by_header.json()["content"] == [
        {"type": "text", "text": "Fake reply to: Weather in Paris?"}
    ]


def test_a_dropped_non_streaming_response(fake_openai: FakeOpenAI):
    fake_openai.reply(FakeReply(text="cut", drop_after_chunks=1))
    client = openai.OpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)

    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-fake", messages=USER)


@pytest.mark.parametrize("fake_type", [FakeOpenAI, FakeAnthropic])
async def test_the_env_vars_point_a_keyless_config_at_the_fake(
    fake_type: type[FakeOpenAI] | type[FakeAnthropic], monkeypatch: pytest.MonkeyPatch
):
    with fake_type(api_key="sk-from-env") as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        name = "openai" if fake_type is FakeOpenAI else "anthropic"
        config = ProviderConfig(name, "model-x", sdk_env_fallbacks=True)  # a platform model's
        provider: ModelProvider = build_provider(config)
        try:
            events = await collect(provider.stream(ask("ping")))
        finally:
            await provider.aclose()

    assert "".join(texts(events)) == "Fake reply to: ping"


def test_openai_rejects_a_tool_call_left_without_its_result(fake_openai: FakeOpenAI):
    client = openai.OpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)
    asked = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "LS", "arguments": "{}"}},
            {"id": "call_b", "type": "function", "function": {"name": "LS", "arguments": "{}"}},
        ],
    }
    answered_a = {"role": "tool", "tool_call_id": "call_a", "content": "a.txt"}

    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="gpt-fake", messages=[*USER, asked, answered_a, *USER])
    complete = [*USER, asked, answered_a, {**answered_a, "tool_call_id": "call_b"}, *USER]
    accepted = client.chat.completions.create(model="gpt-fake", messages=complete)

    assert raised.value.body == {
        "message": "An assistant message with 'tool_calls' must be followed by tool messages "
        "responding to each 'tool_call_id'. The following tool_call_ids did not have response "
        "messages: call_b",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert accepted.choices[0].message.content == "Fake reply to: Weather in Paris?"


def test_anthropic_rejects_a_tool_use_without_a_tool_result_right_after(
    fake_anthropic: FakeAnthropic,
):
    client = anthropic.Anthropic(api_key="k", base_url=fake_anthropic.base_url, max_retries=0)
    asked = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_a", "name": "LS", "input": {}}],
    }
    answered = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_a", "content": "a.txt"}],
    }

    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(model="m", max_tokens=5, messages=[*USER, asked, *USER])
    accepted = client.messages.create(model="m", max_tokens=5, messages=[*USER, asked, answered])

    assert raised.value.body == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "messages.1: `tool_use` ids were found without `tool_result` blocks "
            "immediately after: toolu_a. Each `tool_use` block must have a corresponding "
            "`tool_result` block in the next message.",
        },
    }
    assert accepted.stop_reason == "end_turn"
