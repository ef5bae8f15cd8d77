"""JSON request bodies: parsed once, at the edge, with one nesting limit.

Every later step has a nesting ceiling of its own: the stdlib `json` (Python's recursion limit,
~990 levels), pydantic's serializer and `orjson.dumps` (255), and whatever a stored value is
later wrapped in (a message list, an event frame, a model request, a run step adds a few levels
each). A body deeper than one of them would pass validation and fail later with a 500, or be
stored and make every later read of it fail. So a body may nest at most `MAX_DEPTH` levels
(`{}` and `[]` are one level each, the body itself included): 64 is far beyond any real request
(schemas and metadata rarely reach 15) and leaves ~190 levels for wrapping below the tightest
later ceiling.

The request validator parses and checks the body once and keeps the value in the ASGI scope;
the handler takes that value instead of parsing the bytes again.
"""

from __future__ import annotations

from typing import Any

import orjson
from connexion.exceptions import BadRequestProblem
from starlette.types import Scope

MAX_DEPTH = 64
_PARSED = "corral.json_body"  # scope key of the parsed body


def parse(raw: bytes) -> Any:
    """The body's value (None when there are no bytes); a 400 when it is not JSON or nests
    deeper than `MAX_DEPTH`."""
    if not raw:
        return None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("depth limit exceeded"):  # orjson's own limit (1024)
            raise _too_deep() from None
        raise BadRequestProblem(detail=f"body is not valid JSON: {exc}") from None
    # Each level opens a bracket, so a body with few brackets (nearly all) needs no walk.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _deeper_than(body, MAX_DEPTH):
        raise _too_deep()
    return body


def _too_deep() -> BadRequestProblem:
    return BadRequestProblem(detail=f"body nests deeper than {MAX_DEPTH} levels")


def _deeper_than(value: Any, room: int) -> bool:
    if isinstance(value, dict):
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return False
    if room == 0:
        return True
    for child in children:
        if isinstance(child, dict | list) and _deeper_than(child, room - 1):
            return True
    return False


def keep(scope: Scope, body: Any) -> None:
    scope[_PARSED] = body


def kept(scope: Scope) -> tuple[bool, Any]:
    """(True, the body) when the validator parsed it, else (False, None)."""
    return (True, scope[_PARSED]) if _PARSED in scope else (False, None)
