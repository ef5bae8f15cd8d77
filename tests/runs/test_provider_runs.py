"""A server whose default model is a real provider (through its official SDK) pointed at the
fake OpenAI or Anthropic server: the environment keys choose the provider, as `make serve`
does, and the whole tool loop crosses the provider's wire."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from runs_support import (
    create_session,
    create_workspace,
    messages,
    read_file,
    replayed_events,
    send,
    server_events,
    steps,
    text_of,
    write_file,
)

from corral.json_depth import MAX_DEPTH
from corral.testing.fake_anthropic import FakeAnthropic
from corral.testing.fake_openai import FakeOpenAI
from corral.testing.fake_provider import FakeProviderServer, FakeReply, FakeToolCall, FakeUsage
from corral.testing.waiting import wait_for, wait_for_run

FAKES: dict[str, Callable[[], FakeProviderServer]] = {
    "openai": FakeOpenAI,
    "anthropic": FakeAnthropic,
}


@pytest.fixture(params=sorted(FAKES))
def fake_and_server(
    request: pytest.FixtureRequest, runner: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> Any:
    with FAKES[request.param]() as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        yield request.param, fake, runner()


@pytest.fixture
def fake_and_api(fake_and_server: Any) -> Any:
    provider, fake, server = fake_and_server
    with server.client() as api:
        api.timeout = httpx.Timeout(30)
        yield provider, fake, api


def test_the_environment_key_selects_the_provider(fake_and_api: Any) -> None:
    provider, _, api = fake_and_api
    items = api.get("/api/v1/platform-models").json()["items"]
    default = next(m for m in items if m["isDefault"])
    assert default["provider"] == provider and default["hasKey"] is True


def test_a_tool_loop_through_the_providers_wire(fake_and_api: Any) -> None:
    provider, fake, api = fake_and_api
    fake.reply(
        FakeReply(
            text="Let me write it.",
            tool_calls=[
                FakeToolCall("Write", {"file_path": "out.txt", "content": "42\n"}),
                FakeToolCall("LS", {}),
            ],
            usage=FakeUsage(input_tokens=100, output_tokens=20, cache_read_tokens=30),
        ),
        FakeReply(text="Wrote out.txt.", usage=FakeUsage(input_tokens=150, output_tokens=5)),
    )
    ws = create_workspace(api)
    ses = create_session(api, ws["id"])
    run = wait_for_run(api, send(api, ses["id"], "write 42 to out.txt")["runId"])
    assert run["status"] == "completed", run
    assert read_file(api, ws["id"], "out.txt") == "42\n"
    msgs = messages(api, ses["id"])
    assert text_of(msgs[-1]) == "Wrote out.txt."
    usage = run["metadata"]["usage"]
    assert usage["outputTokens"] == 25 and usage["cacheReadTokens"] == 30
    # the second request carried the tool calls and both results back to the provider
    second = fake.requests[-1].body
    assert "out.txt" in str(second["messages"]) and "42" in str(second["messages"])
    assert second["tools"] and any("Write" in str(t) for t in second["tools"])
    system = second["system"] if provider == "anthropic" else second["messages"][0]["content"]
    assert "AGENTS.md" in str(system)


def test_agents_md_and_the_agent_prompt_reach_the_model(fake_and_api: Any) -> None:
    provider, fake, api = fake_and_api
    fake.reply("Reviewed.")
    ws = create_workspace(api)
    write_file(api, ws["id"], "AGENTS.md", "# House rules\n\nAlways answer in haiku.\n")
    reviewer = "---\nname: reviewer\nmode: primary\n---\nYou review: read each diff twice.\n"
    write_file(api, ws["id"], ".corral/agents/reviewer.md", reviewer)
    ses = create_session(api, ws["id"], agentName="reviewer")
    run = wait_for_run(api, send(api, ses["id"], "Review my change")["runId"])
    assert run["status"] == "completed" and run["effectiveAgentName"] == "reviewer", run
    (request,) = [r.body for r in fake.requests if r.method == "POST"]
    if provider == "anthropic":
        system, said = request["system"], request["messages"]
    else:
        (first, *said) = request["messages"]
        assert first["role"] == "system", first
        system = first["content"]
    system = system if isinstance(system, str) else "".join(b["text"] for b in system)
    assert "You review: read each diff twice." in system  # the agent's prompt
    assert "# House rules\n\nAlways answer in haiku." in system  # the workspace's AGENTS.md
    assert "Review my change" in json.dumps(said) and "Review my change" not in system


def test_a_provider_error_fails_the_run_with_its_message(fake_and_api: Any) -> None:
    _, fake, api = fake_and_api
    fake.reply(FakeReply.error(400, "this model does not exist"))
    ses = create_session(api, create_workspace(api)["id"])
    run = wait_for_run(api, send(api, ses["id"], "hi")["runId"])
    assert run["status"] == "failed" and run["errorCode"] == "model_stream_failed"
    assert "this model does not exist" in run["errorMessage"]


def test_a_rate_limit_is_retried(fake_and_api: Any) -> None:
    _, fake, api = fake_and_api
    fake.reply(FakeReply.error(429, "slow down"), "after the retry")
    ses = create_session(api, create_workspace(api)["id"])
    run = wait_for_run(api, send(api, ses["id"], "hi")["runId"])
    assert run["status"] == "completed", run
    assert text_of(messages(api, ses["id"])[-1]) == "after the retry"


def test_cancel_mid_stream_closes_the_provider_request_and_keeps_the_partial_text(
    fake_and_api: Any,
) -> None:
    _, fake, api = fake_and_api
    fake.reply(FakeReply(text="one two three four five six seven eight", chunk_delay_s=1))
    ses = create_session(api, create_workspace(api)["id"])
    run_id = send(api, ses["id"], "count slowly")["runId"]
    wait_for(lambda: len(messages(api, ses["id"])) == 2, what="the first words")
    api.post(f"/api/v1/runs/{run_id}/cancel")
    assert wait_for_run(api, run_id)["status"] == "cancelled"
    partial = text_of(messages(api, ses["id"])[-1])
    assert partial and "eight" not in partial
    wait_for(lambda: fake.disconnects >= 1)
    model_step = next(s for s in steps(api, run_id) if s["stepType"] == "model_call")
    assert model_step["status"] == "cancelled"


def test_a_run_interrupted_mid_tool_leaves_a_history_the_provider_accepts(
    fake_and_api: Any,
) -> None:
    _, fake, api = fake_and_api
    sleep = FakeToolCall("Bash", {"command": "sleep 30"}, id="call_sleep")
    fake.reply(FakeReply(text="Sleeping.", tool_calls=[sleep]), "Stopped sleeping.")
    ses = create_session(api, create_workspace(api)["id"])
    first = send(api, ses["id"], "sleep")["runId"]
    wait_for(
        lambda: (
            [s["status"] for s in steps(api, first) if s["stepType"] == "tool_call"] == ["running"]
        ),
        what="the Bash call to run",
    )
    second = send(api, ses["id"], "never mind", runningRunBehavior="interrupt")["runId"]
    assert wait_for_run(api, first)["status"] == "cancelled"
    run = wait_for_run(api, second)
    assert run["status"] == "completed", run
    tool_step = next(s for s in steps(api, first) if s["stepType"] == "tool_call")
    assert tool_step["status"] == "cancelled"
    result = next(m for m in messages(api, ses["id"]) if m["role"] == "tool")["content"][0]
    assert result["toolCallId"] == "call_sleep" and result["output"]["type"] == "error-text"
    assert "stopped" in result["output"]["value"]
    # the interrupting message reached the provider after the stopped call's error result
    sent = str(fake.requests[-1].body["messages"])
    assert sent.index("call_sleep") < sent.index(result["output"]["value"]) < sent.index("never")
    assert len(fake.requests) == 2 and text_of(messages(api, ses["id"])[-1]) == "Stopped sleeping."


def test_arguments_that_are_not_json_are_an_error_result_the_model_can_retry(
    fake_and_server: Any, fake_and_api: Any
) -> None:
    _, fake, api = fake_and_api
    cut = FakeToolCall("Write", {}, id="call_cut", arguments='{"file_path": "out.txt", "cont')
    fixed = FakeToolCall("Write", {"file_path": "out.txt", "content": "42\n"})
    fake.reply(FakeReply(tool_calls=[cut]), FakeReply(tool_calls=[fixed]), "Wrote it.")
    ws = create_workspace(api)
    ses = create_session(api, ws["id"])
    run = wait_for_run(api, send(api, ses["id"], "write 42 to out.txt")["runId"])
    assert run["status"] == "completed", run
    assert read_file(api, ws["id"], "out.txt") == "42\n"
    call, result = [
        m["content"][0] for m in messages(api, ses["id"]) if m["role"] in ("tool", "assistant")
    ][:2]
    assert call["toolCallId"] == result["toolCallId"] == "call_cut"
    assert call["input"] == '{"file_path": "out.txt", "cont'
    assert result["output"]["type"] == "error-text"
    assert "not a JSON object (unexpected end of data" in result["output"]["value"]
    failed = next(
        e["data"]
        for e in server_events(fake_and_server[2], ses["id"])
        if e["event"] == "tool.failed"
    )
    assert failed["errorCode"] == "invalid_tool_input" and failed["toolCallId"] == "call_cut"
    # the model was shown its call and the error, and called again
    assert "unexpected end of data" in str(fake.requests[1].body["messages"])
    assert len(fake.requests) == 3


def nested(levels: int) -> str:
    """`levels` levels of objects as JSON text (too deep for the test's own JSON encoder)."""
    return '{"v":' * levels + "1" + "}" * levels


def test_arguments_nested_deeper_than_the_limit_are_an_error_result_and_the_session_reads_back(
    fake_and_server: Any, fake_and_api: Any
) -> None:
    """Past the limit the stdlib parser stored what no event frame could encode (from 256
    levels) or raised RecursionError (from ~990): the run failed, or its stream did for good."""
    _, fake, api = fake_and_api
    workspace_id = create_workspace(api)["id"]
    for depth in (MAX_DEPTH, MAX_DEPTH + 1, 300, 2000):
        deep = FakeToolCall("Write", {}, id=f"call_{depth}", arguments=nested(depth))
        fake.reply(FakeReply(tool_calls=[deep], fragment_chars=400), f"Done at {depth}.")
        session_id = create_session(api, workspace_id)["id"]
        run = wait_for_run(api, send(api, session_id, "nest")["runId"])
        assert run["status"] == "completed", (depth, run)
        msgs = messages(api, session_id)
        call, result = [m["content"][0] for m in msgs if m["role"] in ("tool", "assistant")][:2]
        assert call["toolCallId"] == result["toolCallId"] == f"call_{depth}"
        assert result["output"]["type"] == "error-text", (depth, result)
        assert text_of(msgs[-1]) == f"Done at {depth}."
        if depth <= MAX_DEPTH:  # kept as parsed: the Write tool itself turns it down
            assert "nested deeper" not in result["output"]["value"]
            assert call["input"] == json.loads(nested(depth))
        else:  # kept as the model's text, like any arguments that are not an object
            problem = f"not a JSON object (nested deeper than {MAX_DEPTH} levels)"
            assert problem in result["output"]["value"], (depth, result)
            assert call["input"] == nested(depth)
        replayed = replayed_events(api, session_id)
        stored = server_events(fake_and_server[2], session_id)
        assert replayed == [(e["event"], e["data"]) for e in stored], depth
        failed = next(data for event, data in replayed if event == "tool.failed")
        assert failed["errorCode"] == "invalid_tool_input", (depth, failed)
        assert replayed[-1][0] == "run.completed"
    assert len(fake.requests) == 8  # each call's error went back to the model


def test_a_number_wider_than_64_bits_in_arguments_reads_back(
    fake_and_server: Any, fake_and_api: Any
) -> None:
    """The stdlib parser kept it as an int that no event frame could encode; it is read as a
    float, as in request bodies."""
    _, fake, api = fake_and_api
    wide = FakeToolCall("LS", {}, arguments='{"path": ".", "n": 123456789012345678901234567890}')
    fake.reply(FakeReply(tool_calls=[wide]), "Listed.")
    session_id = create_session(api, create_workspace(api)["id"])["id"]
    run = wait_for_run(api, send(api, session_id, "list")["runId"])
    assert run["status"] == "completed", run
    call = next(m for m in messages(api, session_id) if m["role"] == "assistant")["content"][0]
    assert call["input"] == {"path": ".", "n": 1.2345678901234568e29}
    stored = server_events(fake_and_server[2], session_id)
    assert replayed_events(api, session_id) == [(e["event"], e["data"]) for e in stored]


def test_a_lone_surrogate_in_the_stream_becomes_a_replacement_character(
    fake_and_server: Any, fake_and_api: Any
) -> None:
    """The SDKs' JSON parsers make a real (unencodable) surrogate of an escaped `\\ud800`:
    stored as such it failed the run, in text, reasoning, a tool's id, name or arguments."""
    _, fake, api = fake_and_api
    broken_arguments = FakeToolCall("LS", {}, id="call_args", arguments='{"path": "a\ud800"}')
    broken_name = FakeToolCall("L\udfffS", {"path": "."}, id="call_\udc80")
    fake.reply(
        FakeReply(
            text="a\ud800b", reasoning="thinking \udbff", tool_calls=[broken_arguments, broken_name]
        ),
        FakeReply(text="Done \udfff."),
    )
    session_id = create_session(api, create_workspace(api)["id"])["id"]
    run = wait_for_run(api, send(api, session_id, "list")["runId"])
    assert run["status"] == "completed", run
    msgs = messages(api, session_id)
    parts = next(m for m in msgs if m["role"] == "assistant")["content"]
    reasoning = next(p for p in parts if p["type"] == "reasoning")
    assert reasoning["text"] == "thinking \ufffd"
    assert next(p for p in parts if p["type"] == "text")["text"] == "a\ufffdb"
    calls = [
        p
        for m in msgs
        if m["role"] == "assistant"
        for p in m["content"]
        if p["type"] == "tool-call"
    ]
    assert [(c["toolCallId"], c["toolName"]) for c in calls] == [
        ("call_args", "LS"),
        ("call_\ufffd", "L\ufffdS"),
    ]
    # arguments the model spoilt are its own text, with an error result it can act on
    assert calls[0]["input"] == '{"path": "a\ufffd"}'
    results = {
        m["content"][0]["toolCallId"]: m["content"][0]["output"]
        for m in msgs
        if m["role"] == "tool"
    }
    assert results["call_args"]["type"] == results["call_\ufffd"]["type"] == "error-text"
    assert "surrogate" in results["call_args"]["value"]
    assert "L\ufffdS" in results["call_\ufffd"]["value"]
    assert text_of(msgs[-1]) == "Done \ufffd."
    replayed = replayed_events(api, session_id)
    stored = server_events(fake_and_server[2], session_id)
    assert replayed == [(e["event"], e["data"]) for e in stored]
    deltas = [
        json.dumps(data, ensure_ascii=False) for event, data in replayed if event == "message.delta"
    ]
    assert any("a\ufffdb" in d for d in deltas) and replayed[-1][0] == "run.completed"
    # the model was shown the calls as stored
    assert "L\ufffdS" in json.dumps(fake.requests[1].body, ensure_ascii=False)


def test_a_provider_error_message_with_a_lone_surrogate_fails_the_run_with_its_message(
    fake_and_api: Any,
) -> None:
    """Stored as the SDK parsed it, the message failed the run's last write: it never ended."""
    provider, fake, api = fake_and_api
    # after the first text delta, so the failure is not retried
    first_text = {"openai": 2, "anthropic": 4}[provider]
    fake.reply(
        FakeReply(
            text="one two",
            fail_after_chunks=first_text,
            error_type="invalid_request_error",
            error_message="bad \ud800 model",
        )
    )
    session_id = create_session(api, create_workspace(api)["id"])["id"]
    run = wait_for_run(api, send(api, session_id, "hi")["runId"])
    assert run["status"] == "failed" and run["errorCode"] == "model_stream_failed", run
    assert "bad \ufffd model" in run["errorMessage"]
    assert text_of(messages(api, session_id)[-1]) == "one "
    assert replayed_events(api, session_id)[-1][0] == "run.failed"
