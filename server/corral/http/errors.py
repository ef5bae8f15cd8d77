"""Map every failure onto the error envelope: a domain error a handler raises, and whatever
Connexion or Starlette raise."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from connexion import AsyncApp
from connexion.exceptions import NonConformingResponse, ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from corral.error_codes import ErrorCode
from corral.errors import CorralError
from corral.http.allow import AllowIndex
from corral.http.envelope import envelope_body, envelope_status

log = logging.getLogger("corral.http")

# The code an HTTP exception (Connexion's, Starlette's) is answered with, by its status; each is
# a code whose own status is that one (tests/api/test_errors.py checks against STATUS).
CODES: dict[int, ErrorCode] = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "invalid_content_type",
    500: "internal_error",
    501: "not_implemented",
}


def code_for(status: int) -> ErrorCode:
    """The code answering an HTTP exception of this status: `http_error` for one none names."""
    return CODES.get(status, "http_error")


def _response(
    code: ErrorCode,
    message: str,
    headers: Any = None,
    details: Any = None,
    status: int | None = None,
) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=envelope_status(code, status),
        mimetype="application/json",
        content_type="application/json",
        headers=dict(headers or {}),
        body=envelope_body(code, message, details),
    )


def _first_paragraph(text: object) -> str:
    return str(text).split("\n\n", 1)[0].strip()


async def on_corral_error(_: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """The one place a domain error a handler lets through becomes the envelope, with its
    code's status. A coroutine: Connexion runs a plain function in a worker thread."""
    assert isinstance(exc, CorralError)
    return _response(exc.code, exc.message, details=exc.details)


def on_problem(_: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, ProblemException)
    if isinstance(exc, NonConformingResponse):
        log.error("response does not conform to the spec: %s", exc.detail)
        return _response("response_validation_failed", _first_paragraph(exc.detail))
    status = exc.status or 500
    message = _first_paragraph(exc.detail or exc.title)
    return _response(code_for(status), message, exc.headers, status=status)


def on_http_exception(
    allow: AllowIndex,
) -> Callable[[ConnexionRequest, Exception], ConnexionResponse]:
    def handle(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, HTTPException)
        status, headers = exc.status_code, dict(exc.headers or {})
        if status == 405:
            headers["Allow"] = allow.allow(request.url.path) or headers.get("Allow", "")
        return _response(code_for(status), str(exc.detail), headers, status=status)

    return handle


def on_unexpected(_: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    log.exception("unhandled error", exc_info=exc)
    return _response("internal_error", "internal server error")


def install_error_handlers(app: AsyncApp, allow: AllowIndex) -> None:
    app.add_error_handler(CorralError, on_corral_error)
    app.add_error_handler(ProblemException, on_problem)
    app.add_error_handler(HTTPException, on_http_exception(allow))
    app.add_error_handler(Exception, on_unexpected)
