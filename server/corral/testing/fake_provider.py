"""What the fake OpenAI and Anthropic servers share: scripted replies, the record of what they
received, pacing and failures, and serving on a loopback port.

A test queues `FakeReply`s; each request takes the next one (an empty queue answers by echoing
the last user text, so a server started for a smoke test needs no script). Every request is
recorded in `requests`, and `disconnects` counts streams the client abandoned; so is a request
to any other path (a 404), e.g. a token exchange, so `carrying` sees every byte a client sent.
Like the real APIs, a request whose transcript leaves a tool call unanswered gets a 400 (and
takes no reply).
"""

from __future__ import annotations

import asyncio
import json
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Any, Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from corral.testing.threaded_server import serve_in_thread

HOLD_LIMIT_S = 60  # a held reply goes out after this anyway: a forgotten release never hangs


@dataclass(frozen=True)
class FakeToolCall:
    name: str
    input: dict[str, Any]
    id: str | None = None  # generated when not given
    # Streamed instead of the JSON of `input` (e.g. malformed arguments); not in a non-streamed
    # Anthropic reply, whose input is always an object.
    arguments: str | None = None

    def arguments_json(self) -> str:
        return json.dumps(self.input) if self.arguments is None else self.arguments


@dataclass(frozen=True)
class FakeUsage:
    """Token counts as the provider reports them on its wire (OpenAI's prompt tokens include
    the cached ones; Anthropic's input tokens do not)."""

    input_tokens: int = 10
    output_tokens: int = 5
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True)
class FakeReply:
    text: str = ""
    tool_calls: list[FakeToolCall] = field(default_factory=list)
    # Anthropic: a signed thinking block; OpenAI: `reasoning_content`, as compatible servers send.
    reasoning: str = ""
    signature: str = "fake-thinking-signature"
    usage: FakeUsage = field(default_factory=FakeUsage)
    finish_reason: str | None = None  # the wire's own value; derived from the content if unset
    # An HTTP error status answers with the provider's error body instead.
    status: int = 200
    error_message: str = "fake provider error"
    error_type: str | None = None  # the wire's error type; a per-status default if unset
    initial_delay_s: float = 0
    # The reply waits (after its initial delay) until the test sets this, for a test that must
    # act while a model call is in flight however slow the machine is.
    hold: threading.Event | None = None
    chunk_delay_s: float = 0
    fail_after_chunks: int | None = None  # send the provider's in-stream error event instead
    drop_after_chunks: int | None = None  # close the connection mid-response
    fragment_chars: int = 7  # tool arguments arrive in fragments of this many characters

    @classmethod
    def error(cls, status: int, message: str, error_type: str | None = None) -> FakeReply:
        return cls(status=status, error_message=message, error_type=error_type)


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class DroppedConnection(Exception):
    """Raised inside a response to make the server cut the connection."""


class FakeProviderServer(ABC):
    """Subclasses speak one provider's wire: routes, frames, bodies and error shapes."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key  # when set, requests must carry it (either auth header)
        self.requests: list[ReceivedRequest] = []
        self.disconnects = 0
        self._replies: deque[FakeReply] = deque()
        self._served = 0
        self._stack = ExitStack()
        self.port = 0

    # -- for tests ----------------------------------------------------------------------

    def reply(self, *replies: FakeReply | str) -> None:
        self._replies.extend(FakeReply(text=r) if isinstance(r, str) else r for r in replies)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    @abstractmethod
    def base_url(self) -> str:
        """What the provider's SDK takes as `base_url`."""

    def carrying(self, text: str) -> list[ReceivedRequest]:
        """The recorded requests with `text` anywhere in their path, headers or body."""
        return [r for r in self.requests if text in f"{r.path} {r.headers} {json.dumps(r.body)}"]

    def __enter__(self) -> Self:
        unknown = Route("/{path:path}", self._unknown, methods=["GET", "POST", "PUT", "DELETE"])
        app = Starlette(routes=[*self.routes(), unknown])
        # A scripted delay may outlast its test: stopping does not wait for it.
        served = serve_in_thread(app, lifespan="off", shutdown_timeout_s=1)
        self.port = self._stack.enter_context(served)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    # -- the wire, per provider --------------------------------------------------------

    @abstractmethod
    def routes(self) -> list[BaseRoute]:
        """The provider's endpoints, answering through `answer`."""

    @abstractmethod
    def unanswered_tool_calls(self, body: dict[str, Any]) -> str | None:
        """The provider's own complaint when a tool call in the request's messages is not
        followed by its result, else None."""

    @abstractmethod
    def error_body(self, status: int, message: str, error_type: str | None) -> dict[str, Any]:
        """The provider's JSON body for an HTTP error."""

    @abstractmethod
    def stream_frames(self, reply: FakeReply, body: dict[str, Any], n: int) -> list[str]:
        """The streamed reply, one SSE frame an item; `n` numbers the replies served."""

    @abstractmethod
    def stream_error_frame(self, reply: FakeReply) -> str:
        """An error reported inside a stream that began with a 200."""

    @abstractmethod
    def completion(self, reply: FakeReply, body: dict[str, Any], n: int) -> dict[str, Any]:
        """The non-streamed reply body."""

    # -- shared handling ----------------------------------------------------------------

    async def answer(self, request: Request) -> Response:
        """Record the request, then answer it with the next scripted reply."""
        body = await request.json()
        self.requests.append(
            ReceivedRequest(request.method, request.url.path, dict(request.headers), body)
        )
        if self.api_key and self.api_key not in _presented_keys(request):
            return self.error_response(FakeReply.error(401, "invalid x-api-key or bearer token"))
        if complaint := self.unanswered_tool_calls(body):
            return self.error_response(FakeReply.error(400, complaint, "invalid_request_error"))
        reply = self._next_reply(body)
        n, self._served = self._served, self._served + 1
        if reply.initial_delay_s:
            await asyncio.sleep(reply.initial_delay_s)
        if reply.hold is not None:
            await asyncio.to_thread(reply.hold.wait, HOLD_LIMIT_S)
        if reply.status >= 400:
            return self.error_response(reply)
        if body.get("stream"):
            frames = self.stream_frames(reply, body, n)
            return StreamingResponse(self._paced(frames, reply), media_type="text/event-stream")
        payload = json.dumps(self.completion(reply, body, n))
        if reply.drop_after_chunks is None:
            return Response(payload, media_type="application/json")
        halves = [payload[: len(payload) // 2], payload[len(payload) // 2 :]]
        cut = replace(reply, drop_after_chunks=1)
        return StreamingResponse(self._paced(halves, cut), media_type="application/json")

    async def _unknown(self, request: Request) -> Response:
        body = (await request.body()).decode(errors="replace")
        self.requests.append(
            ReceivedRequest(request.method, request.url.path, dict(request.headers), body)
        )
        return self.error_response(FakeReply.error(404, f"no route {request.url.path}"))

    def error_response(self, reply: FakeReply) -> Response:
        body = self.error_body(reply.status, reply.error_message, reply.error_type)
        return JSONResponse(body, status_code=reply.status)

    def _next_reply(self, body: dict[str, Any]) -> FakeReply:
        if self._replies:
            return self._replies.popleft()
        return FakeReply(text=f"Fake reply to: {_last_user_text(body)}")

    async def _paced(self, frames: list[str], reply: FakeReply) -> AsyncIterator[str]:
        ended = False
        try:
            for i, frame in enumerate(frames):
                if i == reply.drop_after_chunks:
                    ended = True
                    raise DroppedConnection("scripted drop")
                if i == reply.fail_after_chunks:
                    ended = True
                    yield self.stream_error_frame(reply)
                    return
                if i and reply.chunk_delay_s:
                    await asyncio.sleep(reply.chunk_delay_s)
                yield frame
            ended = True
        finally:
            if not ended:  # cancelled by Starlette when the client went away
                self.disconnects += 1


def fragments(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), max(1, size))]


def _presented_keys(request: Request) -> set[str]:
    bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
    return {bearer, request.headers.get("x-api-key", "")} - {""}


def _last_user_text(body: dict[str, Any]) -> str:
    """Both wires hold user content as a string or a list of typed blocks."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [b.get("text", "") for b in content or [] if b.get("type") == "text"]
        if texts:
            return "".join(texts)
    return ""
