"""The generated client (`clients/python/corral_client`) against a live server: requests it
builds are accepted and responses, errors included, parse into its models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http import HTTPStatus

import pytest

from corral.testing.live_server import LiveServer
from corral_client import AuthenticatedClient, Client
from corral_client.api.messages import list_session_messages, send_session_message
from corral_client.api.meta import get_system_profile
from corral_client.api.runs import cancel_run, get_run
from corral_client.api.sessions import create_session, get_session, get_session_queue
from corral_client.api.workspaces import create_workspace, list_workspaces
from corral_client.models import (
    CancelRunAccepted,
    CreateSessionRequest,
    CreateWorkspaceRequest,
    ErrorResponse,
    MessageAccepted,
    MessageAcceptedDelivery,
    MessagePage,
    MessageRole,
    Run,
    RunStatus,
    SendMessageRequest,
    Session,
    SessionQueue,
    SystemProfile,
    TextPart,
    Workspace,
    WorkspacePage,
)
from corral_client.types import UNSET


@pytest.fixture
def client(server: LiveServer) -> Iterator[Client]:
    with Client(base_url=server.url, raise_on_unexpected_status=True) as generated:
        yield generated


def new_session(client: Client, title: str = "from the client") -> Session:
    workspace = create_workspace.sync(
        client=client, body=CreateWorkspaceRequest(name="client", runtime="default")
    )
    assert isinstance(workspace, Workspace)
    session = create_session.sync(
        workspace.id, client=client, body=CreateSessionRequest(title=title)
    )
    assert isinstance(session, Session)
    return session


def test_workspace_session_message_run_round_trip(client: Client) -> None:
    session = new_session(client)
    assert session.title == "from the client"
    assert session.active_agent_name == "assistant"

    first = send_session_message.sync_detailed(
        session.id, client=client, body=SendMessageRequest(content="hello")
    )
    assert first.status_code == HTTPStatus.ACCEPTED
    accepted = first.parsed
    assert isinstance(accepted, MessageAccepted)
    assert accepted.delivery == MessageAcceptedDelivery.ACTIVE_RUN
    assert accepted.queued_position is UNSET

    parts = [TextPart(type_="text", text="and this")]
    follow_up = send_session_message.sync(
        session.id, client=client, body=SendMessageRequest(content=parts)
    )
    assert isinstance(follow_up, MessageAccepted)
    assert follow_up.delivery == MessageAcceptedDelivery.SESSION_QUEUE
    assert follow_up.queued_position == 1

    page = list_session_messages.sync(session.id, client=client, page_size=1)
    assert isinstance(page, MessagePage)
    assert [m.id for m in page.items] == [accepted.message_id]
    assert page.items[0].role == MessageRole.USER
    assert page.items[0].content == "hello"
    rest = list_session_messages.sync(session.id, client=client, cursor=page.next_cursor)
    assert isinstance(rest, MessagePage)
    assert [m.id for m in rest.items] == [follow_up.message_id]
    assert rest.next_cursor is UNSET

    queue = get_session_queue.sync(session.id, client=client)
    assert isinstance(queue, SessionQueue)
    assert [(q.run_id, q.content, q.position) for q in queue.items] == [
        (follow_up.run_id, "and this", 1)
    ]

    run = get_run.sync(accepted.run_id, client=client)
    assert isinstance(run, Run)
    assert run.status == RunStatus.QUEUED
    assert run.trigger_ref == accepted.message_id
    assert run.session_id == session.id

    cancelled = cancel_run.sync(accepted.run_id, client=client)
    assert isinstance(cancelled, CancelRunAccepted)
    refreshed = get_run.sync(accepted.run_id, client=client)
    assert isinstance(refreshed, Run) and refreshed.status == RunStatus.CANCELLED


def test_documented_errors_parse_into_the_error_model(client: Client) -> None:
    missing = get_session.sync_detailed("ses_missing", client=client)
    assert missing.status_code == HTTPStatus.NOT_FOUND
    assert isinstance(missing.parsed, ErrorResponse)
    assert missing.parsed.error.code == "session_not_found"
    assert missing.parsed.error.message

    session = new_session(client)
    blank = send_session_message.sync_detailed(
        session.id, client=client, body=SendMessageRequest(content="   ")
    )
    assert blank.status_code == HTTPStatus.BAD_REQUEST
    assert isinstance(blank.parsed, ErrorResponse)
    assert blank.parsed.error.code == "invalid_request"


def test_lists_and_meta_parse(client: Client) -> None:
    new_session(client)
    page = list_workspaces.sync(client=client, page_size=200)
    assert isinstance(page, WorkspacePage)
    assert [w.name for w in page.items] == ["client"]
    profile = get_system_profile.sync(client=client)
    assert isinstance(profile, SystemProfile)
    assert profile.api_compatibility == "oah/v1"


def test_authenticated_client_against_a_token_server(
    start_server: Callable[..., LiveServer],
) -> None:
    server = start_server(api_tokens=[{"token": "client-token-1"}])
    with AuthenticatedClient(base_url=server.url, token="client-token-1") as authed:
        page = list_workspaces.sync(client=authed)
        assert isinstance(page, WorkspacePage)
    with Client(base_url=server.url) as anonymous:
        denied = list_workspaces.sync_detailed(client=anonymous)
        assert denied.status_code == HTTPStatus.UNAUTHORIZED
        assert isinstance(denied.parsed, ErrorResponse)
        assert denied.parsed.error.code == "unauthorized"
