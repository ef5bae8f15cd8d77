"""Request body size limits, enforced from Content-Length and again while the body streams."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from corral.http.envelope import envelope_response

MiB = 1024 * 1024


class BodyLimit:
    """`rules` are (method, path regex-free prefix/suffix test, limit); the first match wins."""

    def __init__(self, app: ASGIApp, default: int, rules: Sequence[tuple[str, str, int]]) -> None:
        self.app = app
        self.default = default
        self.rules = rules

    def limit_for(self, method: str, path: str) -> int:
        for rule_method, pattern, limit in self.rules:
            if method == rule_method and _matches(pattern, path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _too_large(limit)(scope, receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"request body exceeds {limit} bytes")
            return message

        await self.app(scope, counted, send)


def _matches(pattern: str, path: str) -> bool:
    """`*` matches one path segment: /api/v1/sessions/*/messages."""
    want = pattern.strip("/").split("/")
    have = path.strip("/").split("/")
    return len(want) == len(have) and all(w in ("*", h) for w, h in zip(want, have, strict=True))


def _too_large(limit: int) -> ASGIApp:
    return envelope_response(413, "payload_too_large", f"request body exceeds {limit} bytes")
