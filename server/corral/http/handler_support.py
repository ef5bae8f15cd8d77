"""What the generated handlers call: request access, body parsing and response rendering."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cache
from typing import Any, TypeVar, get_args

import orjson
from connexion import request
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from corral.errors import CorralError
from corral.http.context import current_caller
from corral.http.envelope import envelope_response
from corral.http.files import file_response
from corral.http.sse import sse_response

__all__ = [
    "current_caller",
    "empty_response",
    "file_response",
    "json_response",
    "not_implemented_response",
    "parse_body",
    "parse_optional_body",
    "request_header",
    "request_stream",
    "sse_response",
    "text_response",
]

M = TypeVar("M", bound=BaseModel)
JSON = "application/json"


def parse_body(model: type[M], body: Any) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise CorralError("invalid_request", f"{where}: {first['msg']}", {"field": where}) from None


def parse_optional_body(model: type[M], body: Any) -> M | None:
    return None if body is None else parse_body(model, body)


async def request_stream() -> AsyncIterator[bytes]:
    """The request body as it arrives; a client leaving mid-body is a CorralError (499, the
    response goes nowhere) rather than an unhandled error."""
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise CorralError(
            "client_disconnected", "the client closed the connection mid-body"
        ) from None


def request_header(name: str) -> str | None:
    value: str | None = request.headers.get(name)
    return value


def json_response(result: BaseModel | dict[str, Any] | list[Any], status: int) -> Response:
    content = _model_json(result) if isinstance(result, BaseModel) else orjson.dumps(result)
    return Response(content, status, media_type=JSON)


def _model_json(model: BaseModel) -> bytes:
    """A model on the wire: an optional field left null is omitted, but a required one is sent
    as null (the contract wants the key, e.g. `HealthWorker.pool`)."""
    if not _has_required_nulls(type(model)):
        return model.model_dump_json(by_alias=True, exclude_none=True).encode()
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    _restore_required_nulls(model, data)
    return orjson.dumps(data)


@cache
def _has_required_nulls(root: type[BaseModel]) -> bool:
    """Whether a model, or one nested in it, has a required field that may be null."""
    seen: set[type[BaseModel]] = set()
    todo = [root]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for field in model.model_fields.values():
            types = _types_in(field.annotation)
            if field.is_required() and type(None) in types:
                return True
            todo += [t for t in types if isinstance(t, type) and issubclass(t, BaseModel)]
    return False


def _types_in(annotation: Any) -> set[Any]:
    found = {type(None) if annotation is None else annotation}
    for arg in get_args(annotation):
        found |= _types_in(arg)
    return found


def _restore_required_nulls(value: Any, data: Any) -> None:
    if isinstance(value, BaseModel) and isinstance(data, dict):
        for name, field in type(value).model_fields.items():
            key, item = field.alias or name, getattr(value, name)
            if item is None and field.is_required():
                data[key] = None
            elif item is not None:
                _restore_required_nulls(item, data.get(key))
    elif isinstance(value, list) and isinstance(data, list):
        for item, dumped in zip(value, data, strict=False):
            _restore_required_nulls(item, dumped)
    elif isinstance(value, dict) and isinstance(data, dict):
        for key, item in value.items():
            _restore_required_nulls(item, data.get(key))


def empty_response(status: int) -> Response:
    return Response(status_code=status)


def text_response(text: str, media_type: str, status: int) -> Response:
    return Response(text, status, media_type=media_type)


def not_implemented_response(operation_id: str) -> Response:
    return envelope_response(
        "not_implemented",
        f"{operation_id} is part of the contract but not implemented yet",
        {"operationId": operation_id},
    )
