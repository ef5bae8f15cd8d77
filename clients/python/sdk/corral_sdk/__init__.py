"""Corral's Python SDK: workspaces, sessions, runs streamed as typed events, sandbox files.

    from corral_sdk import Corral

    corral = Corral("http://127.0.0.1:8787")
    ws = corral.workspaces.create(name="demo", runtime="default")
    session = ws.sessions.create(title="first")
    result = session.send("List the files in the workspace")
    print(result.text, result.usage, result.run.status)

`AsyncCorral` is the same API for asyncio.
"""

from corral_sdk._version import __version__
from corral_sdk.aio import (
    AsyncActions,
    AsyncCorral,
    AsyncRunStream,
    AsyncSession,
    AsyncWorkspace,
)
from corral_sdk.aio_sandbox import AsyncSandbox
from corral_sdk.client import Actions, Corral, RunStream, Session, Workspace
from corral_sdk.errors import (
    ActionNotFound,
    AgentNotFound,
    Conflict,
    CorralConnectionError,
    CorralError,
    FileNotFound,
    Forbidden,
    InvalidRequest,
    MessageNotFound,
    ModelNotFound,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    RunError,
    RunNotFound,
    RuntimeNotFound,
    ServerError,
    SessionBusy,
    SessionNotFound,
    Unauthorized,
    Unavailable,
    WorkspaceNotFound,
)
from corral_sdk.events import Event
from corral_sdk.results import RunResult, Usage
from corral_sdk.sandbox import Sandbox

__all__ = [
    "ActionNotFound",
    "Actions",
    "AgentNotFound",
    "AsyncActions",
    "AsyncCorral",
    "AsyncRunStream",
    "AsyncSandbox",
    "AsyncSession",
    "AsyncWorkspace",
    "Conflict",
    "Corral",
    "CorralConnectionError",
    "CorralError",
    "Event",
    "FileNotFound",
    "Forbidden",
    "InvalidRequest",
    "MessageNotFound",
    "ModelNotFound",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "RunError",
    "RunNotFound",
    "RunResult",
    "RunStream",
    "RuntimeNotFound",
    "Sandbox",
    "ServerError",
    "Session",
    "SessionBusy",
    "SessionNotFound",
    "Unauthorized",
    "Unavailable",
    "Usage",
    "Workspace",
    "WorkspaceNotFound",
    "__version__",
]
