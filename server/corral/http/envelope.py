"""The one error shape of the API: {"error": {"code", "message", "details"?}}, the code one of
the contract's `ErrorCode`s."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from corral.error_codes import ErrorCode


def envelope_body(code: ErrorCode, message: str, details: Mapping[str, Any] | None = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = dict(details)
    return orjson.dumps({"error": error})


def envelope_response(
    status: int,
    code: ErrorCode,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return Response(
        envelope_body(code, message, details),
        status,
        headers=dict(headers or {}),
        media_type="application/json",
    )
