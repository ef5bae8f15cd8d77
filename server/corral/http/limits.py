"""Request body size limits, enforced from Content-Length and again while the body streams."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope

from corral.http.envelope import envelope_response

MiB = 1024 * 1024
BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


class BodyLimit:
    """`rules` are (method, path regex-free prefix/suffix test, limit); the first match wins."""

    def __init__(self, default: int, rules: Sequence[tuple[str, str, int]]) -> None:
        self.default = default
        self.rules = rules

    def limit_for(self, method: str, path: str) -> int:
        for rule_method, pattern, limit in self.rules:
            if method == rule_method and _matches(pattern, path):
                return limit
        return self.default

    def guard(self, scope: Scope, receive: Receive) -> tuple[ASGIApp | None, Receive]:
        """(the 413 answer, receive) when Content-Length already exceeds the limit, else
        (None, a receive that raises 413 once the streamed body does)."""
        if scope["method"] in BODILESS:
            return None, receive
        limit = self.limit_for(scope["method"], scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                return _too_large(limit), receive
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"request body exceeds {limit} bytes")
            return message

        return None, counted


def _matches(pattern: str, path: str) -> bool:
    """`*` matches one path segment: /api/v1/sessions/*/messages."""
    want = pattern.strip("/").split("/")
    have = path.strip("/").split("/")
    return len(want) == len(have) and all(w in ("*", h) for w, h in zip(want, have, strict=True))


def _too_large(limit: int) -> ASGIApp:
    return envelope_response("payload_too_large", f"request body exceeds {limit} bytes")
