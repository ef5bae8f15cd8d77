"""Schemathesis validates real event frames against openapi.yaml.

A session is driven through everything that makes the server emit events today: queued,
removed, promoted and dequeued runs, an interrupt and a cancel, a scripted run that reasons,
calls a tool that works and one that fails, a model failure and its requeue, action runs that
succeed and fail, engine tools (a skill read, delegations that complete and fail, an agent
switch), a compaction, a run timeout, a hook that fails and one whose handler is not run. Its
whole history is then read back through
`GET /sessions/{id}/events?follow=false` by Schemathesis, whose checks validate every frame
and, through `contentSchema`, every frame's payload. The same answer with one payload broken
on purpose must fail those checks, so a check that validates nothing cannot pass.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from events_support import stored_events
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.openapi.checks import JsonSchemaError
from schemathesis.schemas import APIOperation

from corral.config import Settings
from corral.testing.api_calls import create_session, create_workspace, get_run, send
from corral.testing.live_server import LiveServer, live_server
from corral.testing.processes import CALLER_VARIABLES
from corral.testing.waiting import wait_for

TOKEN = "frames-token-0123456789"  # with auth on, Schemathesis also checks it is enforced
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SLOW = [{"text": "thinking slowly", "delayMs": 30_000}]  # ended by an interrupt or a timeout
TOOLS = [
    {
        "reasoning": "Let me look around.",
        "text": "Looking.",
        "toolCalls": [{"name": "LS", "input": {}}, {"name": "NoSuchTool", "input": {}}],
    },
    "Done.",
]
MODEL_DOWN = [{"error": {"message": "the model is down", "retryable": False}}]
ENGINE_TOOLS = [
    {
        "toolCalls": [
            {"name": "Skill", "input": {"name": "debugging"}},
            {"name": "SubAgent", "input": {"agent": "reviewer", "prompt": "Review."}},
            {"name": "SubAgent", "input": {"agent": "lost", "prompt": "Fail."}},
        ]
    },
    {"toolCalls": [{"name": "AgentSwitch", "input": {"agent": "assistant"}}]},
    "Done.",
]
FILES = {
    ".corral/agents/hasty.md": "---\nname: hasty\nrunTimeoutSeconds: 0.5\n---\nBe quick.\n",
    ".corral/agents/lead.md": "---\n---\nEvery tool.\n",
    ".corral/agents/lost.md": "---\nmode: subagent\nmodel: workspace/missing\n---\nFails.\n",
    ".corral/actions/broken.yaml": "name: broken\ncommand: 'echo broken >&2; exit 3'\n",
    ".corral/hooks/ls-audit.yaml": "handlerType: command\nevents: [tool.completed]\n"
    "matcher: LS\ncommand: 'exit 5'\n",
    ".corral/hooks/notify.yaml": "handlerType: http\nevents: [run.completed]\nurl: http://x/\n",
}

MAX_FRAMES = 1000  # more than any history here holds
AGENT_EVENTS = (
    "agent.switch.requested",
    "agent.switched",
    "agent.delegate.started",
    "agent.delegate.completed",
    "agent.delegate.failed",
)
Event = dict[str, Any]
# Every event the server emits today, in each of the shapes it takes.
EXPECTED: dict[str, Callable[[str, Event], bool]] = {
    "run.queued": lambda name, data: name == "run.queued" and "recoveredBy" not in data,
    "run.queued by a requeue": lambda name, data: name == "run.queued" and "requestedBy" in data,
    **{
        f"queue.updated {action}": (
            lambda name, data, action=action: name == "queue.updated" and data["action"] == action
        )
        for action in ("enqueued", "removed", "promoted", "dequeued")
    },
    "run.started": lambda name, data: name == "run.started",
    "message.delta of text": lambda name, data: name == "message.delta" and "delta" in data,
    "message.delta of parts": lambda name, data: name == "message.delta" and "content" in data,
    "message.completed of a reply": lambda name, data: (
        name == "message.completed" and "finishReason" in data
    ),
    "message.completed of a tool result": lambda name, data: (
        name == "message.completed" and "toolCallId" in data
    ),
    "message.completed of a compaction": lambda name, data: (
        name == "message.completed" and data.get("role") == "system"
    ),
    **{
        f"{name} of {source}": (
            lambda n, data, name=name, source=source: n == name and data["sourceType"] == source
        )
        for name in ("tool.started", "tool.completed", "tool.failed")
        for source in ("native", "action", "agent")
    },
    **{
        f"{name} of skill": lambda n, data, name=name: n == name and data["sourceType"] == "skill"
        for name in ("tool.started", "tool.completed")
    },
    **{name: lambda n, data, name=name: n == name for name in AGENT_EVENTS},
    "run.completed": lambda name, data: name == "run.completed",
    **{
        f"run.failed {status}": (
            lambda name, data, status=status: name == "run.failed" and data["status"] == status
        )
        for status in ("failed", "timed_out")
    },
    "run.cancelled": lambda name, data: name == "run.cancelled",
    **{
        f"hook.notice {code}": (
            lambda name, data, code=code: name == "hook.notice" and data["errorCode"] == code
        )
        for code in ("hook_failed", "hook_handler_unsupported")
    },
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with pytest.MonkeyPatch.context() as env:
        for name in CALLER_VARIABLES:  # the default model is the scripted one
            env.delenv(name, raising=False)
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("frames"),
            validate_responses=True,
            api_tokens=[{"token": TOKEN}],
            sandbox_isolation="none",
        )
        with live_server(settings) as served:
            yield served


@pytest.fixture(scope="module")
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def frames(server: LiveServer) -> APIOperation:
    """The event stream operation as Schemathesis loads it from the server. The config is
    explicit, never a discovered schemathesis.toml (which could change what is checked), and
    lifts the 20 frames Schemathesis reads of a stream by default."""
    config = SchemathesisConfig.from_dict({"max-stream-events": MAX_FRAMES})
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=config)
    return schema["/api/v1/sessions/{sessionId}/events"]["GET"]


def history(frames: APIOperation, session_id: str) -> Case:
    """The request for the session's stored events, ending when they do."""
    return frames.Case(path_parameters={"sessionId": session_id}, query={"follow": "false"})


def validate_history(frames: APIOperation, server: LiveServer, session_id: str) -> int:
    """Read the session's stored events through Schemathesis, which runs all its checks on
    the response; returns the number of frames it read."""
    response = history(frames, session_id).call_and_validate(base_url=server.url, headers=AUTH)
    return sum(line.startswith("event: ") for line in response.text.split("\n"))


def post(api: httpx.Client, path: str, body: Any = None, status: int = 202) -> Any:
    resp = api.post(path, json=body)
    assert resp.status_code == status, resp.text
    return resp.json()


def scripted(api: httpx.Client, session_id: str, script: list[Any], **extra: Any) -> str:
    """The run answering a message with `script`."""
    return str(send(api, session_id, script=script, **extra)["runId"])


def ended(api: httpx.Client, run_id: str, status: str) -> None:
    wait_for(lambda: get_run(api, run_id)["status"] == status, what=f"run {run_id} {status}")


def build_history(api: httpx.Client) -> str:
    ws = create_workspace(api, "frames")
    for path, content in FILES.items():
        resp = api.put(
            f"/api/v1/sandboxes/{ws['id']}/files/content",
            json={"path": path, "content": content},
        )
        assert resp.status_code in (200, 201), resp.text
    session_id = str(create_session(api, ws["id"])["id"])

    slow = scripted(api, session_id, SLOW)
    ended(api, slow, "running")
    failing = scripted(api, session_id, MODEL_DOWN)  # waits in the queue
    dropped = scripted(api, session_id, ["never"])
    post(api, f"/api/v1/runs/{dropped}/cancel")  # a queued run leaves the queue
    tools = scripted(api, session_id, TOOLS, runningRunBehavior="interrupt")  # cancels `slow`
    for run_id, status in ((slow, "cancelled"), (tools, "completed"), (failing, "failed")):
        ended(api, run_id, status)

    post(api, f"/api/v1/runs/{failing}/requeue")
    ended(api, failing, "failed")  # again: the requeue made it queued
    assert get_run(api, failing)["metadata"]["recoveryAttempts"] == 1

    for action, status in (("list-files", "completed"), ("broken", "failed")):
        body = {"input": {}, "sessionId": session_id}
        ended(
            api,
            post(api, f"/api/v1/workspaces/{ws['id']}/actions/{action}/runs", body)["runId"],
            status,
        )

    assert post(api, f"/api/v1/sessions/{session_id}/compact", {}, 200)["compacted"] is True

    resp = api.patch(f"/api/v1/sessions/{session_id}", json={"activeAgentName": "lead"})
    assert resp.status_code == 200, resp.text
    ended(api, scripted(api, session_id, ENGINE_TOOLS), "completed")  # switches to the assistant

    resp = api.patch(f"/api/v1/sessions/{session_id}", json={"activeAgentName": "hasty"})
    assert resp.status_code == 200, resp.text
    ended(api, scripted(api, session_id, SLOW), "timed_out")
    return session_id


def test_every_frame_the_server_emits_conforms_to_the_spec(
    server: LiveServer, api: httpx.Client, frames: APIOperation
) -> None:
    session_id = build_history(api)
    stored = stored_events(server.settings.data_dir, session_id)
    missing = [
        shape
        for shape, seen in EXPECTED.items()
        if not any(seen(e["event"], e["data"]) for e in stored)
    ]
    assert not missing, f"the history lacks {missing}"

    assert validate_history(frames, server, session_id) == len(stored)


def _without_session_id(data: Event) -> Event:
    return {k: v for k, v in data.items() if k != "sessionId"}


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(_without_session_id, id="a required field missing"),
        pytest.param(lambda data: {**data, "status": "running"}, id="a wrong constant"),
        pytest.param(lambda data: {**data, "sessionID": "ses_x"}, id="an undeclared field"),
    ],
)
def test_a_payload_that_breaks_its_schema_fails_the_checks(
    server: LiveServer, api: httpx.Client, frames: APIOperation, corrupt: Callable[[Event], Event]
) -> None:
    """The checks run on the stream as the server answered it, with one frame's payload
    broken: the checks judge the response they are given, so a broken copy of a real answer
    proves they read every payload, and the server's data stays as the server wrote it."""
    ws = create_workspace(api, "broken-frames")
    session_id = str(create_session(api, ws["id"])["id"])
    ended(api, scripted(api, session_id, ["fine"]), "completed")
    case = history(frames, session_id)
    answer = case.call(base_url=server.url, headers=AUTH)
    case.validate_response(answer, headers=AUTH)  # well-formed as the server wrote it

    broken = Response(
        answer.status_code,
        answer.headers,
        with_payload(answer.content, "run.queued", corrupt),
        answer.request,
        answer.elapsed,
        answer.verify,
        http_version=answer.http_version,
        encoding=answer.encoding,
    )
    with pytest.raises(FailureGroup) as failed:
        case.validate_response(broken, headers=AUTH)
    (failure,) = failed.value.exceptions  # the broken frame, and nothing else
    assert isinstance(failure, JsonSchemaError), failure
    assert failure.instance["event"] == "run.queued"


def with_payload(stream: bytes, event: str, corrupt: Callable[[Event], Event]) -> bytes:
    """The SSE `stream` with the payload of its first `event` frame replaced by
    `corrupt(payload)`."""
    frames = stream.split(b"\n\n")
    index = next(i for i, f in enumerate(frames) if f"\nevent: {event}\n".encode() in f)
    lines = frames[index].split(b"\n")
    (at,) = [i for i, line in enumerate(lines) if line.startswith(b"data: ")]
    lines[at] = b"data: " + json.dumps(corrupt(json.loads(lines[at][6:]))).encode()
    frames[index] = b"\n".join(lines)
    return b"\n\n".join(frames)
