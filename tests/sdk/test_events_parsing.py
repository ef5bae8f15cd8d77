"""SSE frames into typed events: every known name has its model, anything else (a newer
server's event, a payload that does not fit) is kept as an `UnknownEvent`, never an error."""

from __future__ import annotations

import json

import pytest
import yaml
from pydantic import TypeAdapter

from corral.app import SPEC
from corral_sdk.events import (
    KNOWN_EVENTS,
    Event,
    MessageCompleted,
    MessageDelta,
    QueueUpdated,
    RunFailed,
    ToolStarted,
    UnknownEvent,
    is_run_end,
    parse_event,
)


def test_known_events_become_their_models_in_snake_case() -> None:
    payload = {
        "runId": "run_1",
        "sessionId": "ses_1",
        "toolCallId": "c1",
        "toolName": "Read",
        "sourceType": "native",
        "input": {"file_path": "a"},
        "future": 1,
    }
    event = parse_event("tool.started", 7, json.dumps(payload))
    assert isinstance(event, ToolStarted)
    assert (event.cursor, event.run_id, event.tool_name) == (7, "run_1", "Read")
    assert event.input == {"file_path": "a"}
    assert event.model_extra == {"future": 1}  # fields a newer server adds are kept

    queue = parse_event(
        "queue.updated",
        3,
        json.dumps(
            {
                "runId": "r",
                "action": "enqueued",
                "queuedPosition": 1,
                "items": [
                    {
                        "runId": "r",
                        "messageId": "m",
                        "content": "hi",
                        "position": 1,
                        "createdAt": "2026-01-01T00:00:00Z",
                    }
                ],
            }
        ),
    )
    assert isinstance(queue, QueueUpdated) and queue.items[0].run_id == "r"

    parts = [{"type": "reasoning", "text": "hmm"}, {"type": "text", "text": "Hi"}]
    payload = {"runId": "r", "messageId": "m", "finishReason": "stop", "content": parts}
    done = parse_event("message.completed", 9, json.dumps(payload))
    assert isinstance(done, MessageCompleted) and done.text == "Hi"

    failed = parse_event("run.failed", 10, '{"runId": "r", "status": "timed_out"}')
    assert isinstance(failed, RunFailed) and is_run_end(failed, "r")
    assert not is_run_end(failed, "another") and not is_run_end(done)


def test_every_event_of_the_contract_has_a_model_with_its_fields() -> None:
    schemas = yaml.safe_load(SPEC.read_text())["components"]["schemas"]
    frames = schemas["SessionEventFrame"]["discriminator"]["mapping"]
    models = {cls.model_fields["event"].default: cls for cls in KNOWN_EVENTS}
    assert set(models) == set(frames)
    for name, frame_ref in frames.items():
        frame = schemas[frame_ref.rsplit("/", 1)[1]]
        data = next(part for part in frame["allOf"] if "properties" in part)["properties"]["data"]
        payload = schemas[data["contentSchema"]["$ref"].rsplit("/", 1)[1]]
        fields = {field.alias for field in models[name].model_fields.values()}
        assert set(payload["properties"]) <= fields, (name, set(payload["properties"]) - fields)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("brand.new", '{"runId": "r", "x": 1}'),  # a name this SDK does not know
        ("tool.started", '{"runId": "r"}'),  # a known name whose payload does not fit
        ("message.delta", "not json"),
        ("run.queued", "[1, 2]"),
    ],
)
def test_anything_else_is_an_unknown_event(name: str, data: str) -> None:
    event = parse_event(name, 4, data)
    assert isinstance(event, UnknownEvent)
    assert (event.event, event.cursor) == (name, 4)
    assert event.data in ({"runId": "r", "x": 1}, {"runId": "r"}, {"raw": data})


def test_the_union_validates_by_name() -> None:
    adapter: TypeAdapter[Event] = TypeAdapter(Event)
    delta = adapter.validate_python(
        {"event": "message.delta", "cursor": 1, "messageId": "m", "delta": "hi"}
    )
    assert isinstance(delta, MessageDelta) and delta.delta == "hi"
    other = adapter.validate_python({"event": "other", "cursor": 2})
    assert isinstance(other, UnknownEvent)
