"""Every failure the SDK reports is a `CorralError`; the API's error code picks the subclass.

The API answers errors as `{"error": {"code", "message", "details"}}`. A code with a class of
its own (`session_not_found` → `SessionNotFound`) maps to it; any other code falls back on the
HTTP status (`404` → `NotFound`), so a code added to the server later still lands in the right
family.
"""

from __future__ import annotations

import json
from typing import Any


class CorralError(Exception):
    """An error answered by Corral, or met on the way to it.

    `code` is the API's snake_case error code, `status` the HTTP status (None when no answer
    came), `details` the error's details object (empty when there is none).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details = details or {}

    def __str__(self) -> str:
        where = f" ({self.status})" if self.status is not None else ""
        return f"{self.code}{where}: {self.message}"


class InvalidRequest(CorralError):
    """400 (and 415): the request does not fit the contract."""


class PayloadTooLarge(InvalidRequest):
    """413: the body is over the server's limit for this route."""


class Unauthorized(CorralError):
    """401: no valid bearer token."""


class Forbidden(CorralError):
    """403: the token may not touch this workspace, or the action is not callable."""


class NotFound(CorralError):
    """404: the resource does not exist (or is not visible to this token)."""


class WorkspaceNotFound(NotFound):
    pass


class SessionNotFound(NotFound):
    pass


class MessageNotFound(NotFound):
    pass


class RunNotFound(NotFound):
    pass


class AgentNotFound(NotFound):
    pass


class ActionNotFound(NotFound):
    pass


class ModelNotFound(NotFound):
    pass


class RuntimeNotFound(NotFound):
    pass


class FileNotFound(NotFound):
    """A sandbox path that does not exist."""


class Conflict(CorralError):
    """409: the request collides with the resource's current state."""


class SessionBusy(Conflict):
    """The session has an active or queued run (e.g. compacting it now)."""


class PreconditionFailed(Conflict):
    """412: the file changed since the `if_match` etag was read."""


class ServerError(CorralError):
    """5xx: the server failed; the request may succeed later."""


class Unavailable(ServerError):
    """501 / 503: the feature is off in this deployment, or the server is draining."""


class CorralConnectionError(CorralError):
    """No answer: the server could not be reached, or a stream could not be resumed in time."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="connection_failed")


class RunError(CorralError):
    """A run that ended without completing (`RunResult.raise_for_status()`): `code` is the
    run's error code (`run_cancelled` for a cancelled run), `details` holds `runId`, `status`."""


_BY_CODE: dict[str, type[CorralError]] = {
    "session_busy": SessionBusy,
    "workspace_not_found": WorkspaceNotFound,
    "session_not_found": SessionNotFound,
    "message_not_found": MessageNotFound,
    "run_not_found": RunNotFound,
    "queued_run_not_found": RunNotFound,
    "agent_not_found": AgentNotFound,
    "action_not_found": ActionNotFound,
    "model_not_found": ModelNotFound,
    "runtime_not_found": RuntimeNotFound,
    "workspace_entry_not_found": FileNotFound,
    "workspace_file_not_found": FileNotFound,
    "workspace_precondition_failed": PreconditionFailed,
    "payload_too_large": PayloadTooLarge,
}

_BY_STATUS: dict[int, type[CorralError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    415: InvalidRequest,
    501: Unavailable,
    503: Unavailable,
}


def error_for(status: int, body: bytes) -> CorralError:
    """The exception for an error response (its status and raw body)."""
    code, message, details = _envelope(body)
    if code is None:
        code, message = f"http_{status}", message or f"HTTP {status}"
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else CorralError
    return cls(message, code=code, status=status, details=details)


def _envelope(body: bytes) -> tuple[str | None, str, dict[str, Any]]:
    try:
        error = json.loads(body)["error"]
        return str(error["code"]), str(error.get("message", "")), dict(error.get("details") or {})
    except (ValueError, KeyError, TypeError):
        return None, body[:200].decode("utf-8", "replace").strip(), {}
