"""Server-sent events on the wire: `\n` line endings, one-line JSON data, comment keep-alives."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse

from corral.core.results import SseFrame

HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}


def encode_frame(frame: SseFrame) -> bytes:
    lines = []
    if frame.id is not None:
        lines.append(f"id: {frame.id}")
    if frame.retry_ms is not None:
        lines.append(f"retry: {frame.retry_ms}")
    lines.append(f"event: {frame.event}")
    lines.append(f"data: {frame.data}")
    return ("\n".join(lines) + "\n\n").encode()


def sse_response(frames: AsyncIterator[SseFrame]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        yield b": connected\n\n"
        async for frame in frames:
            yield encode_frame(frame)

    return StreamingResponse(body(), media_type="text/event-stream", headers=HEADERS)
