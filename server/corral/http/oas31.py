"""Teach Connexion 3.3 to serve an OpenAPI 3.1 document.

Connexion checks documents against its bundled 3.0 meta-schema (it refuses `openapi: 3.1.0`) and
validates JSON bodies with Draft 4, which ignores `const` and so accepts any discriminator value.
The spec is linted as 3.1 in CI (codegen/lint_spec.py); here we skip Connexion's 3.0 check and
validate bodies with Draft 2020-12 validators compiled once per schema by jsonschema_rs.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem, NonConformingResponseBody
from connexion.spec import OpenAPISpecification
from connexion.validators import (
    VALIDATOR_MAP,
    JSONRequestBodyValidator,
    JSONResponseBodyValidator,
    TextResponseBodyValidator,
)
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from corral.http import json_body
from corral.http.schemas import compiled

_connexion_validate_spec = OpenAPISpecification._validate_spec.__func__


def _validate_spec(cls: type, spec: dict[str, Any]) -> None:
    if not str(spec.get("openapi", "")).startswith("3.1"):
        _connexion_validate_spec(cls, spec)


OpenAPISpecification._validate_spec = classmethod(_validate_spec)


def _describe(error: jsonschema_rs.ValidationError) -> str:
    where = "/".join(str(p) for p in error.instance_path)
    return f"{error.message} (at /{where})" if where else error.message


class RequestBody(JSONRequestBodyValidator):  # type: ignore[misc]
    async def wrap_receive(self, receive: Receive, *, scope: Scope) -> tuple[Receive, Scope]:
        """Connexion decides a body is absent from Content-Length alone; a chunked body has
        none, so it is read here first and replayed with its length (the body limit still
        counts it as it arrives)."""
        headers = Headers(scope=scope)
        if "content-length" in headers or "chunked" not in headers.get("transfer-encoding", ""):
            plain: tuple[Receive, Scope] = await super().wrap_receive(receive, scope=scope)
            return plain
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        kept = [(k, v) for k, v in scope["headers"] if k != b"transfer-encoding"]
        sized = dict(scope, headers=[*kept, (b"content-length", str(len(body)).encode())])
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        wrapped: tuple[Receive, Scope] = await super().wrap_receive(replay, scope=sized)
        return wrapped

    async def _parse(self, stream: Any, scope: Any) -> Any:
        raw = b"".join([chunk async for chunk in stream])
        body = json_body.parse(raw)  # None for no body: `_validate` decides if one was required
        if raw and body is None and not self._nullable:
            raise BadRequestProblem(detail="request body must not be null")
        json_body.keep(scope, body)
        return body

    def _validate(self, body: Any) -> None:
        if body is None:
            if self._required and not self._nullable:
                raise BadRequestProblem(detail="request body must not be empty")
            return  # an optional body that was left out
        try:
            compiled(self._schema).validate(body)
        except jsonschema_rs.ValidationError as exc:
            raise BadRequestProblem(detail=_describe(exc)) from None


class ResponseBody(JSONResponseBodyValidator):  # type: ignore[misc]
    def wrap_send(self, send: Send) -> Send:
        """No schema for this media type, nothing to check: a download is sent with the media
        type its file's name suggests, matched by `*/*` (Connexion gives no schema then), and
        its bytes are the file's, not text or JSON of the API, so they are not even parsed."""
        if not self._schema:
            return send
        wrapped: Send = super().wrap_send(send)
        return wrapped

    def _validate(self, body: Any) -> None:
        try:
            compiled(self._schema).validate(body)
        except jsonschema_rs.ValidationError as exc:
            raise NonConformingResponseBody(
                detail=f"response does not conform to the spec: {_describe(exc)}"
            ) from None


class TextResponseBody(TextResponseBodyValidator, ResponseBody):  # type: ignore[misc]
    pass


VALIDATORS = {
    "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": RequestBody}),
    "response": MediaTypeDict({"*/*json": ResponseBody, "text/plain": TextResponseBody}),
}
