"""The one error shape of the API: {"error": {"code", "message", "details"?}}, the code one of
the contract's `ErrorCode`s, answered with the code's status (`error_codes.STATUS`, generated
from where the spec documents each code): the edge names a code, never a status beside it, so
the two cannot disagree. Only `http_error`, the code for a status none of ours names, carries
the status it answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from corral.error_codes import STATUS, ErrorCode


def envelope_body(code: ErrorCode, message: str, details: Mapping[str, Any] | None = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = dict(details)
    return orjson.dumps({"error": error})


def envelope_status(code: ErrorCode, status: int | None = None) -> int:
    """The status of an envelope with `code`: the code's own. `status` is that of the HTTP
    exception being answered, and counts only for `http_error`, which has none of its own
    (for every code `http/errors.CODES` picks, it is the code's own: a test checks)."""
    if code == "http_error":
        if status is None:
            raise ValueError("http_error answers the status of the exception it stands for")
        return status
    return STATUS[code]


def envelope_response(
    code: ErrorCode,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    status: int | None = None,
) -> Response:
    return Response(
        envelope_body(code, message, details),
        envelope_status(code, status),
        headers=dict(headers or {}),
        media_type="application/json",
    )
