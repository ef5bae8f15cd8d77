"""Sending a file the core opened: streamed from its descriptor with validators and ranges.

Starlette's FileResponse reopens the file by path (a symlink swapped in meanwhile would be
followed), answers malformed ranges with a plain-text 400 and several ranges with multipart;
the contract wants none of that, so this small response streams from the fd instead.
"""

from __future__ import annotations

import os
from email.utils import format_datetime
from urllib.parse import quote

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from corral.results import FileResult

CHUNK_BYTES = 1 << 20


def file_response(result: FileResult) -> Response:
    headers = {"ETag": result.etag}
    if result.fd is None:
        return Response(status_code=304, headers=headers)
    headers["Last-Modified"] = format_datetime(result.modified_at, usegmt=True)
    headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(result.filename, '')}"
    headers["Accept-Ranges"] = "bytes"
    if result.span is not None:
        start, end = result.span
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{result.size}"
    return DescriptorResponse(
        result.fd,
        result.span or (0, result.size),
        result.media_type,
        status=206 if result.span else 200,
        headers=headers,
    )


class DescriptorResponse(Response):
    """Streams `[start, end)` of an open fd with `pread` in a worker thread, stops when the
    client goes away, and always closes the fd."""

    def __init__(
        self,
        fd: int,
        span: tuple[int, int],
        media_type: str,
        *,
        status: int,
        headers: dict[str, str],
    ) -> None:
        self.fd = fd
        self.span = span
        self.status_code = status
        self.media_type = media_type
        self.background = None
        self.init_headers({**headers, "Content-Length": str(span[1] - span[0])})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            async with anyio.create_task_group() as group:
                group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
                await self._send_body(send)
                group.cancel_scope.cancel()
        finally:
            os.close(self.fd)  # the thread reading it has returned: to_thread waits on cancel

    async def _send_body(self, send: Send) -> None:
        offset, end = self.span
        while offset < end:
            chunk = await anyio.to_thread.run_sync(
                os.pread, self.fd, min(CHUNK_BYTES, end - offset), offset
            )
            if not chunk:  # truncated meanwhile: fail so the client sees a short body
                raise RuntimeError("the file shrank while it was sent")
            offset += len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": offset < end})
        if self.span[0] == end:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()
