"""Domain errors raised by the core; the HTTP layer maps them to the error envelope.

`{"error": {"code": e.code, "message": e.message, "details": e.details}}` with status `e.status`,
the status the spec documents for the code (`corral.error_codes.STATUS`, generated from it): the
one place a code meets its status, so the sandbox and the core raise errors that know no HTTP.
A code is an `ErrorCode`, the list of the contract's `ErrorCode` schema: mypy rejects one the
contract does not list, so the spec, the server and the SDK's error classes cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from corral.error_codes import STATUS, ErrorCode


class CorralError(Exception):
    """A failure the client should see: a snake_case code and a message. The raiser names no
    HTTP status: the code's status is the one the spec documents for it (`STATUS`)."""

    def __init__(
        self, code: ErrorCode, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def __repr__(self) -> str:
        return f"CorralError({self.code!r}, {self.status}, {self.message!r})"

    @classmethod
    def invalid_request(cls, message: str, details: dict[str, Any] | None = None) -> CorralError:
        return cls("invalid_request", message, details)

    @classmethod
    def not_found(cls, code: ErrorCode, what: str, ident: str) -> CorralError:
        """E.g. `not_found("agent_not_found", "agent", "x")`: "agent 'x' not found"."""
        return cls(code, f"{what} {ident!r} not found", {what: ident})
