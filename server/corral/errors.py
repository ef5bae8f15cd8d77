"""Domain errors raised by the core; the HTTP layer maps them to the error envelope.

`{"error": {"code": e.code, "message": e.message, "details": e.details}}` with status `e.status`.
A code is an `ErrorCode`, the list of the contract's `ErrorCode` schema: mypy rejects one the
contract does not list, so the spec, the server and the SDK's error classes cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from corral.error_codes import ErrorCode


class CorralError(Exception):
    """A failure the client should see: a snake_case code, an HTTP status and a message."""

    def __init__(
        self, code: ErrorCode, status: int, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.status = status
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"CorralError({self.code!r}, {self.status}, {self.message!r})"

    @classmethod
    def invalid_request(cls, message: str, details: dict[str, Any] | None = None) -> CorralError:
        return cls("invalid_request", 400, message, details)

    @classmethod
    def not_found(cls, code: ErrorCode, what: str, ident: str) -> CorralError:
        """E.g. `not_found("agent_not_found", "agent", "x")`: 404 "agent 'x' not found"."""
        return cls(code, 404, f"{what} {ident!r} not found", {what: ident})
