"""API errors reach SDK users as exceptions picked by error code, carrying code, status,
message and details; an unreachable server is a `CorralConnectionError`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sdk_support import script

from corral.config import ApiToken
from corral.testing.scripted_turns import gated
from corral_client.models import ErrorCode
from corral_sdk import (
    ActionNotFound,
    Conflict,
    Corral,
    CorralConnectionError,
    CorralError,
    FileNotFound,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    RunNotFound,
    ServerError,
    Session,
    SessionBusy,
    SessionNotFound,
    Unauthorized,
    Unavailable,
    WorkspaceNotFound,
)
from corral_sdk.errors import error_for
from corral_sdk.events import ToolStarted

UNKNOWN = "0" * 32


def test_unknown_resources_are_their_own_not_found_errors(corral: Corral, session: Session) -> None:
    with pytest.raises(SessionNotFound) as raised:
        corral.sessions.get(f"ses_{UNKNOWN}")
    error = raised.value
    assert isinstance(error, NotFound) and isinstance(error, CorralError)
    assert (error.code, error.status) == ("session_not_found", 404)
    assert error.message and f"ses_{UNKNOWN}" in str(error)

    with pytest.raises(WorkspaceNotFound):
        corral.workspaces.get(f"ws_{UNKNOWN}")
    with pytest.raises(RunNotFound):
        corral.runs.wait(f"run_{UNKNOWN}")
    workspace = corral.workspaces.get(session.workspace_id)
    with pytest.raises(FileNotFound):
        workspace.sandbox.read("no/such/file.txt")
    with pytest.raises(ActionNotFound):
        workspace.actions.run("no-such-action")


def test_a_deleted_sessions_event_stream_is_not_found(corral: Corral, session: Session) -> None:
    session.delete()
    with pytest.raises(SessionNotFound):
        list(session.events(follow=False))


def test_invalid_requests_carry_the_servers_details(session: Session) -> None:
    with pytest.raises(InvalidRequest) as raised:
        session.send("   ")
    assert raised.value.status == 400 and raised.value.code == "invalid_request"


def test_conflicts_busy_sessions_and_stale_etags(session: Session, corral: Corral) -> None:
    sandbox = corral.workspaces.get(session.workspace_id).sandbox
    entry = sandbox.write("data.txt", "one")
    with pytest.raises(Conflict):
        sandbox.write("data.txt", "two", overwrite=False)
    sandbox.write("data.txt", "two", if_match=str(entry.etag))
    with pytest.raises(PreconditionFailed) as stale:
        sandbox.write("data.txt", "three", if_match=str(entry.etag))
    assert stale.value.status == 412 and isinstance(stale.value, Conflict)

    stream = session.stream("wait", metadata=script(gated("never")))
    for event in stream:
        if isinstance(event, ToolStarted):
            break
    with pytest.raises(SessionBusy) as busy:
        session.compact()
    assert busy.value.status == 409 and busy.value.code == "session_busy"
    stream.cancel()
    assert stream.result().status == "cancelled"


def test_tokens_unauthorized_and_forbidden(
    runner: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    limited = ApiToken(token="one-workspace-token", workspaces=["ws_x"])
    server = runner(api_tokens=[ApiToken(token="full-access-token"), limited])
    with Corral(server.url) as anonymous, pytest.raises(Unauthorized) as raised:
        list(anonymous.workspaces.list())
    assert raised.value.status == 401
    with Corral(server.url, token="one-workspace-token") as scoped, pytest.raises(Forbidden):
        scoped.workspaces.create(name="nope")
    monkeypatch.setenv("CORRAL_TOKEN", "full-access-token")  # the default token
    with Corral(server.url) as allowed:
        assert allowed.workspaces.create(name="yes").name == "yes"


def test_an_unreachable_server_is_a_connection_error() -> None:
    with (
        Corral("http://127.0.0.1:9", timeout=5) as nowhere,
        pytest.raises(CorralConnectionError) as raised,
    ):
        nowhere.workspaces.get("ws_x")
    assert raised.value.code == "connection_failed" and raised.value.status is None


# A table, one case per row: formatted, each of its seven rows would take six lines.
@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (404, b'{"error": {"code": "session_not_found", "message": "m"}}', SessionNotFound,
         "session_not_found"),
        (404, b'{"error": {"code": "brand_new_not_found", "message": "m"}}', NotFound,
         "brand_new_not_found"),
        (409, b'{"error": {"code": "session_busy", "message": "m"}}', SessionBusy, "session_busy"),
        (413, b'{"error": {"code": "payload_too_large", "message": "m"}}', PayloadTooLarge,
         "payload_too_large"),
        (503, b'{"error": {"code": "x_unavailable", "message": "m"}}', Unavailable,
         "x_unavailable"),
        (502, b"<html>Bad Gateway</html>", ServerError, "http_502"),
        (418, b"{}", CorralError, "http_418"),
    ],
)  # fmt: skip
def test_error_codes_pick_the_class_and_statuses_are_the_fallback(
    status: int, body: bytes, kind: type[CorralError], code: str
) -> None:
    error = error_for(status, body)
    assert type(error) is kind
    assert (error.code, error.status) == (code, status)


def test_a_code_picks_a_class_of_the_status_the_contract_gives_it() -> None:
    """The classes name their codes from the contract's `ErrorCode` enum; for every code, under
    every status the contract documents it with (its error responses), the class it picks
    belongs to that status's family."""
    spec = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text())
    status_of = {}  # error response component → the status it is used for
    for item in spec["paths"].values():
        for operation in (op for op in item.values() if isinstance(op, dict)):
            for status, response in operation.get("responses", {}).items():
                if status.isdigit() and "$ref" in response:
                    status_of[response["$ref"].rsplit("/", 1)[1]] = int(status)
    checked = 0
    for name, response in spec["components"]["responses"].items():
        for code in re.findall(r"`([a-z][a-z0-9_]*)`", response["description"]):
            status = status_of[name]
            body = json.dumps({"error": {"code": ErrorCode(code), "message": "m"}}).encode()
            family = error_for(status, b"{}")  # what the status alone picks
            assert isinstance(error_for(status, body), type(family)), (code, status)
            checked += 1
    assert checked >= len(ErrorCode) // 2
