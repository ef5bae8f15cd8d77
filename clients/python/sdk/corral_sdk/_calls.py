"""The requests the SDK makes, each built once for the sync and the async client alike.

A `Call` is one HTTP request (httpx keyword arguments, built by the generated client's
`_get_kwargs`, so paths and parameter names come from openapi.yaml) and how to read its
success into a value (the generated models' `from_dict`). The clients only execute calls;
what a request is and what its answer means lives here.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Generic, Protocol, TypeVar

import httpx
from pydantic.alias_generators import to_camel

from corral_client.api.actions import trigger_action_run
from corral_client.api.commands import run_foreground_command, run_process_command
from corral_client.api.files import (
    create_sandbox_directory,
    delete_sandbox_entry,
    download_sandbox_file,
    list_sandbox_entries,
    move_sandbox_entry,
    read_sandbox_file,
    stat_sandbox_file,
    upload_sandbox_file,
    write_sandbox_file,
)
from corral_client.api.messages import list_session_messages, send_session_message
from corral_client.api.runs import cancel_run, get_run, list_run_steps
from corral_client.api.sessions import (
    compact_session,
    create_session,
    delete_session,
    get_session,
    get_session_queue,
    list_session_runs,
    list_workspace_sessions,
    update_session,
)
from corral_client.api.workspaces import (
    create_workspace,
    delete_workspace,
    get_workspace,
    get_workspace_catalog,
    list_workspaces,
)
from corral_client.models import (
    ActionRunAccepted,
    CommandResult,
    CompactSessionRequest,
    CreateDirectoryRequest,
    CreateSessionRequest,
    CreateWorkspaceRequest,
    EnvironmentVariables,
    ForegroundCommandRequest,
    ListSessionMessagesDirection,
    Message,
    MessageAccepted,
    MessagePage,
    MoveEntryRequest,
    ProcessCommandRequest,
    ReadSandboxFileEncoding,
    Run,
    RunPage,
    RunStep,
    RunStepPage,
    SandboxFileStat,
    SendMessageRequest,
    Session,
    SessionCompactResult,
    SessionPage,
    SessionQueue,
    TriggerActionRequest,
    UpdateSessionRequest,
    Workspace,
    WorkspaceCatalog,
    WorkspaceDeleteResult,
    WorkspaceEntry,
    WorkspaceEntryPage,
    WorkspaceFileContent,
    WorkspacePage,
    WriteFileRequest,
    WriteFileRequestEncoding,
)
from corral_client.types import UNSET, File, Unset
from corral_sdk.errors import CorralError, error_for

T = TypeVar("T")
U = TypeVar("U")
M = TypeVar("M", covariant=True)

# Runs that no longer change (a run's `status`).
RUN_ENDED = frozenset({"completed", "failed", "cancelled", "timed_out"})
# What a user message may hold: text, or text/image/file parts (see the API's message parts).
Content = str | list[dict[str, Any]]


@dataclass(frozen=True)
class Call(Generic[T]):
    request: dict[str, Any]
    parse: Callable[[httpx.Response], T]

    def then(self, step: Callable[[T], U]) -> Call[U]:
        """The same request, its value passed on through `step`."""
        parse = self.parse
        return Call(self.request, lambda response: step(parse(response)))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


# A listing: the call that fetches the page at a cursor (None: the first page).
Pages = Callable[[str | None], Call[Page[T]]]


@dataclass(frozen=True)
class RunRef:
    """A run to follow: its events are read from its session's stream."""

    run_id: str
    session_id: str


class _Parsed(Protocol[M]):
    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> M: ...


class _PageModel(Protocol[T]):
    items: list[T]

    next_cursor: str | Unset


def checked(response: httpx.Response) -> httpx.Response:
    """The response, or the `CorralError` its error status stands for (body already read)."""
    if response.is_success:
        return response
    raise error_for(response.status_code, response.content)


def _call(request: dict[str, Any], model: type[_Parsed[T]]) -> Call[T]:
    return Call(request, lambda response: model.from_dict(response.json()))


def _no_value(request: dict[str, Any]) -> Call[None]:
    return Call(request, lambda response: None)


def _paged(request: dict[str, Any], model: type[_Parsed[_PageModel[T]]]) -> Call[Page[T]]:
    def parse(response: httpx.Response) -> Page[T]:
        page = model.from_dict(response.json())
        cursor = page.next_cursor
        return Page(list(page.items), cursor if isinstance(cursor, str) and cursor else None)

    return Call(request, parse)


def _opt(value: T | None) -> T | Unset:
    return UNSET if value is None else value


def _cursor(cursor: str | None) -> str | Unset:
    return _opt(cursor)


# -- workspaces ---------------------------------------------------------------------------


def new_workspace(name: str, runtime: str, options: Mapping[str, Any]) -> Call[Workspace]:
    """`options` are the request's optional fields in snake_case (`agents_md`)."""
    fields = {to_camel(key): value for key, value in options.items() if value is not None}
    body = CreateWorkspaceRequest.from_dict({**fields, "name": name, "runtime": runtime})
    return _call(create_workspace._get_kwargs(body=body), Workspace)


def workspace(workspace_id: str) -> Call[Workspace]:
    return _call(get_workspace._get_kwargs(workspace_id), Workspace)


def workspaces_page(page_size: int) -> Pages[Workspace]:
    return lambda cursor: _paged(
        list_workspaces._get_kwargs(page_size=page_size, cursor=_cursor(cursor)), WorkspacePage
    )


def remove_workspace(workspace_id: str) -> Call[None]:
    return _no_value(delete_workspace._get_kwargs(workspace_id))


def catalog(workspace_id: str) -> Call[WorkspaceCatalog]:
    return _call(get_workspace_catalog._get_kwargs(workspace_id), WorkspaceCatalog)


# -- sessions -----------------------------------------------------------------------------


def new_session(
    workspace_id: str, title: str | None, agent: str | None, model: str | None
) -> Call[Session]:
    body = CreateSessionRequest(title=_opt(title), agent_name=_opt(agent), model_ref=_opt(model))
    return _call(create_session._get_kwargs(workspace_id, body=body), Session)


def session(session_id: str) -> Call[Session]:
    return _call(get_session._get_kwargs(session_id), Session)


def sessions_page(workspace_id: str, page_size: int) -> Pages[Session]:
    return lambda cursor: _paged(
        list_workspace_sessions._get_kwargs(
            workspace_id, page_size=page_size, cursor=_cursor(cursor)
        ),
        SessionPage,
    )


def change_session(
    session_id: str, title: str | None, agent: str | None, model: str | None
) -> Call[Session]:
    body = UpdateSessionRequest(
        title=_opt(title), active_agent_name=_opt(agent), model_ref=_opt(model)
    )
    return _call(update_session._get_kwargs(session_id, body=body), Session)


def remove_session(session_id: str) -> Call[None]:
    return _no_value(delete_session._get_kwargs(session_id))


def session_queue(session_id: str) -> Call[SessionQueue]:
    return _call(get_session_queue._get_kwargs(session_id), SessionQueue)


def compact(session_id: str, instructions: str | None) -> Call[SessionCompactResult]:
    body = CompactSessionRequest(instructions=_opt(instructions))
    return _call(compact_session._get_kwargs(session_id, body=body), SessionCompactResult)


def messages_page(session_id: str, page_size: int, newest_first: bool) -> Pages[Message]:
    direction = (
        ListSessionMessagesDirection.BACKWARD
        if newest_first
        else ListSessionMessagesDirection.FORWARD
    )
    return lambda cursor: _paged(
        list_session_messages._get_kwargs(
            session_id, page_size=page_size, cursor=_cursor(cursor), direction=direction
        ),
        MessagePage,
    )


def send_message(
    session_id: str,
    content: Content,
    metadata: Mapping[str, Any] | None,
    interrupt: bool,
) -> Call[MessageAccepted]:
    body: dict[str, Any] = {"content": content}
    if metadata is not None:
        body["metadata"] = dict(metadata)
    if interrupt:
        body["runningRunBehavior"] = "interrupt"
    request = send_session_message._get_kwargs(session_id, body=SendMessageRequest.from_dict(body))
    return _call(request, MessageAccepted)


def message_run(
    session_id: str, content: Content, metadata: Mapping[str, Any] | None, interrupt: bool
) -> Call[RunRef]:
    """`send_message`, answered by the run it queued."""
    sent = send_message(session_id, content, metadata, interrupt)
    return sent.then(lambda ok: RunRef(ok.run_id, session_id))


# -- runs ---------------------------------------------------------------------------------


def run(run_id: str) -> Call[Run]:
    return _call(get_run._get_kwargs(run_id), Run)


def run_ref(run_id: str) -> Call[RunRef]:
    return run(run_id).then(_ref_of)


def _ref_of(found: Run) -> RunRef:
    if not isinstance(found.session_id, str):
        raise CorralError(
            f"run {found.id} belongs to no session: it has no event stream to follow",
            code="run_without_session",
        )
    return RunRef(found.id, found.session_id)


def runs_page(session_id: str, page_size: int) -> Pages[Run]:
    return lambda cursor: _paged(
        list_session_runs._get_kwargs(session_id, page_size=page_size, cursor=_cursor(cursor)),
        RunPage,
    )


def steps_page(run_id: str, page_size: int) -> Pages[RunStep]:
    return lambda cursor: _paged(
        list_run_steps._get_kwargs(run_id, page_size=page_size, cursor=_cursor(cursor)),
        RunStepPage,
    )


def cancel(run_id: str) -> Call[None]:
    return _no_value(cancel_run._get_kwargs(run_id))


def ended(found: Run) -> bool:
    return found.status.value in RUN_ENDED


def trigger_action(
    workspace_id: str, name: str, input_: Any, session_id: str | None, agent: str | None
) -> Call[RunRef]:
    body = TriggerActionRequest(session_id=_opt(session_id), agent_name=_opt(agent))
    if input_ is not None:
        body.input_ = input_
    request = trigger_action_run._get_kwargs(workspace_id, name, body=body)
    return _call(request, ActionRunAccepted).then(lambda ok: RunRef(ok.run_id, ok.session_id))


# -- sandbox files and commands -----------------------------------------------------------


def entries_page(sandbox_id: str, path: str, page_size: int) -> Pages[WorkspaceEntry]:
    return lambda cursor: _paged(
        list_sandbox_entries._get_kwargs(
            sandbox_id, path=path, page_size=page_size, cursor=_cursor(cursor)
        ),
        WorkspaceEntryPage,
    )


def stat(sandbox_id: str, path: str) -> Call[SandboxFileStat]:
    return _call(stat_sandbox_file._get_kwargs(sandbox_id, path=path), SandboxFileStat)


def read_text(sandbox_id: str, path: str, max_bytes: int | None) -> Call[str]:
    request = read_sandbox_file._get_kwargs(sandbox_id, path=path, max_bytes=_opt(max_bytes))
    return _call(request, WorkspaceFileContent).then(lambda file: file.content)


def read_bytes(sandbox_id: str, path: str, max_bytes: int | None) -> Call[bytes]:
    request = read_sandbox_file._get_kwargs(
        sandbox_id, path=path, encoding=ReadSandboxFileEncoding.BASE64, max_bytes=_opt(max_bytes)
    )
    return _call(request, WorkspaceFileContent).then(lambda file: base64.b64decode(file.content))


def write(
    sandbox_id: str, path: str, content: str | bytes, overwrite: bool, if_match: str | None
) -> Call[WorkspaceEntry]:
    binary = isinstance(content, bytes)
    body = WriteFileRequest(
        path=path,
        content=base64.b64encode(content).decode() if isinstance(content, bytes) else content,
        encoding=WriteFileRequestEncoding.BASE64 if binary else WriteFileRequestEncoding.UTF8,
        overwrite=overwrite,
        if_match=_opt(if_match),
    )
    return _call(write_sandbox_file._get_kwargs(sandbox_id, body=body), WorkspaceEntry)


def upload(
    sandbox_id: str, path: str, body: Any, size: int | None, overwrite: bool, if_match: str | None
) -> Call[WorkspaceEntry]:
    """`body` is any content httpx streams (a file object, an iterator of chunks, bytes);
    `size`, when known, is sent as Content-Length instead of a chunked body."""
    request = upload_sandbox_file._get_kwargs(
        sandbox_id,
        body=File(payload=BytesIO()),
        path=path,
        overwrite=overwrite,
        if_match=_opt(if_match),
    )
    request["content"] = body  # the generated builder knows only file objects
    if size is not None:
        request["headers"]["Content-Length"] = str(size)
    return _call(request, WorkspaceEntry)


def download(sandbox_id: str, path: str) -> dict[str, Any]:
    """The download request; its body is streamed by the client, never parsed here."""
    return download_sandbox_file._get_kwargs(sandbox_id, path=path)


def mkdir(sandbox_id: str, path: str, parents: bool) -> Call[WorkspaceEntry]:
    body = CreateDirectoryRequest(path=path, create_parents=parents)
    return _call(create_sandbox_directory._get_kwargs(sandbox_id, body=body), WorkspaceEntry)


def delete(sandbox_id: str, path: str, recursive: bool) -> Call[WorkspaceDeleteResult]:
    request = delete_sandbox_entry._get_kwargs(sandbox_id, path=path, recursive=recursive)
    return _call(request, WorkspaceDeleteResult)


def move(sandbox_id: str, source: str, target: str, overwrite: bool) -> Call[WorkspaceEntry]:
    body = MoveEntryRequest(source_path=source, target_path=target, overwrite=overwrite)
    return _call(move_sandbox_entry._get_kwargs(sandbox_id, body=body), WorkspaceEntry)


@dataclass(frozen=True)
class CommandOptions:
    cwd: str | None = None
    env: Mapping[str, str] | None = None
    timeout: float | None = None  # seconds; the server's default applies when None
    stdin: str | None = None

    def fields(self) -> dict[str, Any]:
        return {
            "cwd": _opt(self.cwd),
            "env": UNSET if self.env is None else EnvironmentVariables.from_dict(dict(self.env)),
            "timeout_ms": UNSET if self.timeout is None else max(1, round(self.timeout * 1000)),
            "stdin_text": _opt(self.stdin),
        }


# A command may run up to the server's cap (30 min by default): the read waits as long.
_COMMAND_TIMEOUT = httpx.Timeout(30.0, read=None)


def shell(sandbox_id: str, command: str, options: CommandOptions) -> Call[CommandResult]:
    body = ForegroundCommandRequest(command=command, **options.fields())
    request = run_foreground_command._get_kwargs(sandbox_id, body=body)
    return _call({**request, "timeout": _COMMAND_TIMEOUT}, CommandResult)


def process(
    sandbox_id: str, executable: str, args: list[str], options: CommandOptions
) -> Call[CommandResult]:
    body = ProcessCommandRequest(executable=executable, args=args, **options.fields())
    request = run_process_command._get_kwargs(sandbox_id, body=body)
    return _call({**request, "timeout": _COMMAND_TIMEOUT}, CommandResult)
