"""What the model is shown of stored history (corral.core.runs.transcript.model_messages):
every tool call answered, even one whose run died mid-tool, since providers reject a call left
without a result."""

from __future__ import annotations

from typing import Any

from corral import clock
from corral.core.runs.transcript import STOPPED_TOOL, model_messages
from corral.store import MessageRecord


def _msg(role: str, *parts: dict[str, Any]) -> MessageRecord:
    return MessageRecord(
        id=f"msg_{role}", session_id="ses_1", role=role, content=list(parts), created_at=clock.now()
    )


def _text(role: str, text: str) -> MessageRecord:
    return _msg(role, {"type": "text", "text": text})


def _call(call_id: str) -> MessageRecord:
    return _msg(
        "assistant",
        {
            "type": "tool-call",
            "toolCallId": call_id,
            "toolName": "Bash",
            "input": {"command": "sleep 30"},
        },
    )


def _result(call_id: str, value: str = "done") -> dict[str, Any]:
    return {
        "type": "tool-result",
        "toolCallId": call_id,
        "toolName": "Bash",
        "output": {"type": "text", "value": value},
    }


def _stopped(call_id: str) -> dict[str, Any]:
    output = {"type": "error-text", "value": STOPPED_TOOL}
    return {"role": "tool", "content": [{**_result(call_id), "output": output}]}


def _bodies(*msgs: MessageRecord) -> list[dict[str, Any]]:
    return [{"role": m.role, "content": m.content} for m in msgs]


def test_a_complete_history_is_shown_as_stored_without_system_messages() -> None:
    history = [
        _text("user", "hi"),
        _call("a"),
        _msg("tool", _result("a")),
        _text("assistant", "ok"),
        _text("system", "Conversation compacted"),
    ]
    assert model_messages(history) == _bodies(*history[:4])


def test_a_call_left_unanswered_gets_an_error_result_after_its_turns_results() -> None:
    user, a, b, later = _text("user", "go"), _call("a"), _call("b"), _text("user", "and now?")
    result_a = _msg("tool", _result("a"))
    shown = model_messages([user, a, b, result_a, later])
    assert shown == [*_bodies(user, a, b, result_a), _stopped("b"), *_bodies(later)]


def test_calls_of_a_turn_that_never_got_results_are_answered_before_the_next_message() -> None:
    shown = model_messages([_text("user", "go"), _call("a"), _text("user", "stop that")])
    assert shown == [
        *_bodies(_text("user", "go"), _call("a")),
        _stopped("a"),
        *_bodies(_text("user", "stop that")),
    ]
    last_answer = model_messages([_call("a"), _msg("tool", _result("a")), _call("b")])
    assert last_answer[-1] == _stopped("b")


def test_a_result_of_no_call_before_it_is_left_out() -> None:
    stray = _msg("tool", _result("gone"))
    assert model_messages([_text("user", "hi"), stray]) == _bodies(_text("user", "hi"))
    provider_side = _msg(
        "assistant",
        {
            "type": "tool-call",
            "toolCallId": "web",
            "toolName": "search",
            "input": {},
            "providerExecuted": True,
        },
    )
    assert model_messages([provider_side]) == _bodies(provider_side)
