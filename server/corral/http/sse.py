"""Server-sent events on the wire: `\n` line endings, one-line JSON data, comment keep-alives.

The response watches for the client leaving whatever ASGI version the server speaks (an idle
stream sends nothing that could fail), and closes the frame source as soon as it stops, so
whatever the source holds (a subscription, a store read) is released at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from corral.results import SseFrame

HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}
OPENING = b": connected\n\n"


def encode_frame(frame: SseFrame) -> bytes:
    lines = []
    if frame.comment is not None:
        lines.append(f": {frame.comment}")
    if frame.event:
        if frame.id is not None:
            lines.append(f"id: {frame.id}")
        if frame.retry_ms is not None:
            lines.append(f"retry: {frame.retry_ms}")
        lines.append(f"event: {frame.event}")
        if frame.created_at is not None:
            lines.append(f"createdAt: {frame.created_at}")
        lines.append(f"data: {frame.data}")
    return ("\n".join(lines) + "\n\n").encode()


def sse_response(frames: AsyncIterator[SseFrame]) -> Response:
    return SseResponse(frames)


class SseResponse(Response):
    media_type = "text/event-stream"

    def __init__(self, frames: AsyncIterator[SseFrame]) -> None:
        self.frames = frames
        self.status_code = 200
        self.background = None
        self.init_headers(HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        pump = asyncio.ensure_future(self._pump(send))
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait((pump, gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            pump.cancel()  # the client left (or the server stops): close the source now
        if pump.done() and not pump.cancelled():
            pump.result()  # a source that failed mid-stream: let the server drop the connection

    async def _pump(self, send: Send) -> None:
        try:
            await _body(send, OPENING)
            async for frame in self.frames:
                await _body(send, encode_frame(frame))
        finally:
            close = getattr(self.frames, "aclose", None)  # async generators hold resources
            if close is not None:
                await close()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _body(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
