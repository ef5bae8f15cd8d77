"""JSON from outside the server (request bodies, a model's tool-call arguments): parsed with
one nesting limit, by every layer alike.

Every later step has a nesting ceiling of its own: the stdlib `json` (Python's recursion limit,
~990 levels), pydantic's serializer and `orjson.dumps` (255), and whatever a stored value is
later wrapped in (a message list, an event frame, a model request, a run step adds a few levels
each). A value deeper than one of them would be accepted and fail later, or be stored and make
every later read of it fail (a session's event stream, for good). So a value may nest at most
`MAX_DEPTH` levels (`{}` and `[]` are one level each, the value itself included): 64 is far
beyond any real request or tool call (schemas and metadata rarely reach 15) and leaves ~190
levels for wrapping below the tightest later ceiling.

orjson also reads nothing that a later step could not write back, as the stdlib parser does:
it refuses NaN, infinities and lone surrogates, and reads integers wider than 64 bits as floats.
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_DEPTH = 64


class InvalidJson(ValueError):
    """Text that is not JSON; its message says why."""


class TooDeep(InvalidJson):
    def __init__(self) -> None:
        super().__init__(f"nested deeper than {MAX_DEPTH} levels")


def parse(text: bytes | str) -> Any:
    """The value of JSON text; `InvalidJson` (`TooDeep` past `MAX_DEPTH`) when it is not one."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("depth limit exceeded"):  # orjson's own limit (1024)
            raise TooDeep from None
        raise InvalidJson(str(exc)) from None
    # Each level opens a bracket, so text with few brackets (nearly all) needs no walk.
    if _brackets(text) > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise TooDeep
    return value


def _brackets(text: bytes | str) -> int:
    if isinstance(text, str):
        return text.count("[") + text.count("{")
    return text.count(b"[") + text.count(b"{")


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
