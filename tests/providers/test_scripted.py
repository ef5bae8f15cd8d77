"""The scripted model: deterministic turns chosen by tool rounds, tool calls, reasoning,
errors, latency, and the echo it falls back to."""

from __future__ import annotations

from typing import Any

import pytest

from corral.providers import scripted
from corral.providers.base import ModelRequest, ToolCall
from corral.providers.config import ProviderConfig
from corral.providers.scripted import ScriptedProvider

from .conftest import calls, collect, failure, finish, reasoning, texts

SCRIPT: list[Any] = [
    {"text": "Let me read it.", "toolCalls": [{"name": "Read", "input": {"path": "a.txt"}}]},
    {
        "reasoning": "Both files matter.",
        "toolCalls": [
            {"name": "Read", "input": {"path": "b.txt"}, "id": "mine"},
            {"name": "LS", "input": {}},
        ],
    },
    "All done.",
]


def model(**options: Any) -> ScriptedProvider:
    return ScriptedProvider(ProviderConfig("scripted", "scripted", options=options))


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def round_of(*call_ids: str) -> list[dict[str, Any]]:
    """One tool round as the transcript stores it: each call, then each result, on its own."""
    assistant = [
        {
            "role": "assistant",
            "content": [{"type": "tool-call", "toolCallId": c, "toolName": "T", "input": {}}],
        }
        for c in call_ids
    ]
    results = [
        {
            "role": "tool",
            "content": [
                {
                    "type": "tool-result",
                    "toolCallId": c,
                    "toolName": "T",
                    "output": {"type": "text", "value": "ok"},
                }
            ],
        }
        for c in call_ids
    ]
    return assistant + results


def request(messages: list[dict[str, Any]], **options: Any) -> ModelRequest:
    return ModelRequest(model="scripted", messages=messages, options=options)


async def test_turns_follow_the_tool_rounds_since_the_last_user_message():
    provider = model(script=SCRIPT)
    first = [user("Summarise a.txt")]

    turn0 = await collect(provider.stream(request(first)))
    turn1 = await collect(provider.stream(request(first + round_of("x"))))
    turn2 = await collect(provider.stream(request(first + round_of("x") + round_of("y", "z"))))
    again = await collect(provider.stream(request([*first, *round_of("x"), user("More")])))

    assert texts(turn0) == ["Let ", "me ", "read ", "it."]
    [read] = calls(turn0)
    assert (read.tool_name, read.input) == ("Read", {"path": "a.txt"})
    assert finish(turn0).reason == "tool-calls"
    assert "".join(r.text for r in reasoning(turn1)) == "Both files matter."
    mine, listing = calls(turn1)
    assert mine == ToolCall("mine", "Read", {"path": "b.txt"})
    assert (listing.tool_name, listing.input) == ("LS", {})
    assert len({read.tool_call_id, listing.tool_call_id}) == 2
    assert texts(turn2) == ["All ", "done."]
    assert finish(turn2).reason == "stop"
    assert calls(again)[0].tool_name == "Read"  # a new user message starts the script over
    assert calls(again)[0].tool_call_id != read.tool_call_id
    assert await collect(provider.stream(request(first))) == turn0  # deterministic


async def test_without_a_script_it_says_what_it_is_and_echoes():
    provider = model()
    messages = [user("first"), {"role": "assistant", "content": "hi"}]
    messages.append({"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]})

    events = await collect(provider.stream(request(messages)))
    repeat = await collect(provider.stream(request(messages)))

    reply = "".join(texts(events))
    assert "scripted model" in reply and "no model provider key" in reply
    assert reply.endswith("What is 2+2?")
    assert len(texts(events)) > 5
    assert events == repeat  # deterministic, usage included
    assert finish(events).usage.input_tokens > 0 and finish(events).usage.output_tokens > 0


async def test_past_the_end_of_the_script_it_echoes():
    events = await collect(model(script=["only"]).stream(request([user("a"), *round_of("q")])))

    assert "scripted model" in "".join(texts(events))


async def test_the_requests_script_wins_over_the_configured_one():
    provider = model(script=["from config"])

    events = await collect(provider.stream(request([user("x")], script=["from metadata"])))

    assert "".join(texts(events)) == "from metadata"


async def test_an_error_turn():
    script = [{"error": {"message": "overloaded", "retryable": True}}, {"error": {"message": "no"}}]
    provider = model(script=script)

    _, transient = await failure(provider.stream(request([user("x")])))
    _, permanent = await failure(provider.stream(request([user("x"), *round_of("c")])))

    assert (transient.message, transient.retryable) == ("overloaded", True)
    assert (permanent.message, permanent.retryable) == ("no", False)


@pytest.mark.parametrize(
    "script",
    [
        "not a list",
        [42],
        [{"toolCalls": [{"input": {}}]}],
        [{"toolCalls": [{"name": "x", "input": "not an object"}]}],
    ],
)
async def test_an_invalid_script_fails_clearly(script: Any):
    _, error = await failure(model().stream(request([user("x")], script=script)))

    assert not error.retryable and "invalid scripted-model script" in error.message


async def test_latency_from_options_and_turn_goes_through_the_models_clock():
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    def timed(**options: Any) -> ScriptedProvider:
        return ScriptedProvider(ProviderConfig("scripted", "x", options=options), sleep=sleep)

    slow = timed(delayMs=500, script=[{"text": "one two three", "delayMs": 250}])
    assert texts(await collect(slow.stream(request([user("x")])))) == ["one ", "two ", "three"]
    assert slept == [0.75]

    chunked = timed(script=[{"text": "one two three", "chunkDelayMs": 40}])
    assert texts(await collect(chunked.stream(request([user("x")])))) == ["one ", "two ", "three"]
    assert slept == [0.75, 0.04, 0.04]  # between chunks, none before the first

    await collect(timed().stream(request([user("x")])))
    assert slept == [0.75, 0.04, 0.04]


def test_tool_rounds_count_maximal_runs_of_tool_messages():
    messages = [user("a"), *round_of("1", "2", "3"), {"role": "assistant", "content": "t"}]
    messages += round_of("4")

    assert scripted.tool_rounds_since_user(messages) == 2
    assert scripted.tool_rounds_since_user([*messages, user("b")]) == 0
    assert scripted.tool_rounds_since_user([]) == 0
