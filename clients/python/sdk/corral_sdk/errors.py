"""Every failure the SDK reports is a `CorralError`; the API's error code picks the subclass.

The API answers errors as `{"error": {"code", "message", "details"}}`, the code one of the
contract's `ErrorCode`s (the generated client's enum). A class names the codes it stands for
(`SessionNotFound.codes`), so a code the contract drops fails here, not in a user's `except`;
any other code falls back on the HTTP status the class family stands for (`404` → `NotFound`),
so a code added to the server later still lands in the right family.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from corral_client.models import ErrorCode


class CorralError(Exception):
    """An error answered by Corral, or met on the way to it.

    `code` is the API's snake_case error code, `status` the HTTP status (None when no answer
    came), `details` the error's details object (empty when there is none).
    """

    codes: ClassVar[tuple[ErrorCode, ...]] = ()  # the API's codes this class stands for
    statuses: ClassVar[tuple[int, ...]] = ()  # the statuses it stands for when no code does

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

    statuses: ClassVar[tuple[int, ...]] = (400, 415)


class PayloadTooLarge(InvalidRequest):
    """413: the body is over the server's limit for this route."""

    codes = (ErrorCode.PAYLOAD_TOO_LARGE,)
    statuses = (413,)


class Unauthorized(CorralError):
    """401: no valid bearer token."""

    statuses = (401,)


class Forbidden(CorralError):
    """403: the token may not touch this workspace, or the action is not callable."""

    statuses = (403,)


class NotFound(CorralError):
    """404: the resource does not exist (or is not visible to this token)."""

    statuses = (404,)


class WorkspaceNotFound(NotFound):
    codes = (ErrorCode.WORKSPACE_NOT_FOUND,)


class SessionNotFound(NotFound):
    codes = (ErrorCode.SESSION_NOT_FOUND,)


class MessageNotFound(NotFound):
    codes = (ErrorCode.MESSAGE_NOT_FOUND,)


class RunNotFound(NotFound):
    codes = (ErrorCode.RUN_NOT_FOUND, ErrorCode.QUEUED_RUN_NOT_FOUND)


class AgentNotFound(NotFound):
    codes = (ErrorCode.AGENT_NOT_FOUND,)


class ActionNotFound(NotFound):
    codes = (ErrorCode.ACTION_NOT_FOUND,)


class ModelNotFound(NotFound):
    codes = (ErrorCode.MODEL_NOT_FOUND,)


class RuntimeNotFound(NotFound):
    codes = (ErrorCode.RUNTIME_NOT_FOUND,)


class FileNotFound(NotFound):
    """A sandbox path that does not exist."""

    codes = (ErrorCode.WORKSPACE_ENTRY_NOT_FOUND, ErrorCode.WORKSPACE_FILE_NOT_FOUND)


class Conflict(CorralError):
    """409: the request collides with the resource's current state."""

    statuses = (409,)


class SessionBusy(Conflict):
    """The session has an active or queued run (e.g. compacting it now)."""

    codes = (ErrorCode.SESSION_BUSY,)


class PreconditionFailed(Conflict):
    """412: the file changed since the `if_match` etag was read."""

    codes = (ErrorCode.WORKSPACE_PRECONDITION_FAILED,)
    statuses = (412,)


class ServerError(CorralError):
    """5xx: the server failed; the request may succeed later."""


class Unavailable(ServerError):
    """501 / 503: the feature is off in this deployment, or the server is draining."""

    statuses = (501, 503)


class CorralConnectionError(CorralError):
    """No answer: the server could not be reached, or a stream could not be resumed in time."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="connection_failed")


class RunError(CorralError):
    """A run that ended without completing (`RunResult.raise_for_status()`): `code` is the
    run's error code (`run_cancelled` for a cancelled run), `details` holds `runId`, `status`."""


def _lookup() -> tuple[dict[str, type[CorralError]], dict[int, type[CorralError]]]:
    by_code: dict[str, type[CorralError]] = {}
    by_status: dict[int, type[CorralError]] = {}
    for cls in _classes(CorralError):
        declared = vars(cls)  # not what it inherits: those codes and statuses pick its base
        by_code.update((code.value, cls) for code in declared.get("codes", ()))
        by_status.update((status, cls) for status in declared.get("statuses", ()))
    return by_code, by_status


def _classes(root: type[CorralError]) -> list[type[CorralError]]:
    return [root] + [c for sub in root.__subclasses__() for c in _classes(sub)]


_BY_CODE, _BY_STATUS = _lookup()


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
