"""Domain errors raised by the core; the HTTP layer maps them to the error envelope.

`{"error": {"code": e.code, "message": e.message, "details": e.details}}` with status `e.status`.
"""

from __future__ import annotations

from typing import Any


class CorralError(Exception):
    """A failure the client should see: a snake_case code, an HTTP status and a message."""

    def __init__(
        self, code: str, status: int, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"CorralError({self.code!r}, {self.status}, {self.message!r})"

    @classmethod
    def invalid_request(cls, message: str, details: dict[str, Any] | None = None) -> CorralError:
        return cls("invalid_request", 400, message, details)

    @classmethod
    def not_found(cls, code: str, what: str, ident: str) -> CorralError:
        """E.g. `not_found("agent_not_found", "agent", "x")`: 404 "agent 'x' not found"."""
        return cls(code, 404, f"{what} {ident!r} not found", {what: ident})
