"""Calls executed over an `httpx.AsyncClient`: send a `Call` and parse its answer, walk a
listing page by page, follow an `EventFeed` across reconnects, stream a download to a file.
What a request is and what its answer means comes from `_calls` and `_feed`.

`_sync_transport.py` is generated from `_async_transport.py` by `gen_sync.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, TypeVar

import httpx
from httpx_sse import aconnect_sse

from corral_sdk._bodies import DownloadTarget, download_sink
from corral_sdk._calls import Call, Pages, checked
from corral_sdk._feed import EventFeed
from corral_sdk._transport import DROPPED, STREAM_TIMEOUT, BaseTransport, unreachable
from corral_sdk.errors import error_for
from corral_sdk.events import Event

T = TypeVar("T")


class AsyncTransport(BaseTransport):
    def __init__(self, http: httpx.AsyncClient, reconnect_patience_s: float) -> None:
        super().__init__(reconnect_patience_s)
        self.http = http

    async def call(self, call: Call[T]) -> T:
        try:
            response = await self.http.request(**call.request)
        except httpx.TransportError as exc:
            raise unreachable(call.request, exc) from exc
        return call.parse(checked(response))

    async def pages(self, pages: Pages[T]) -> AsyncIterator[T]:
        cursor: str | None = None
        while True:
            page = await self.call(pages(cursor))
            for item in page.items:
                yield item
            if (cursor := page.next_cursor) is None:
                return

    async def events(self, feed: EventFeed) -> AsyncGenerator[Event]:
        while not feed.finished:
            error: Exception | None = None
            try:
                request = {**feed.request(), "timeout": STREAM_TIMEOUT}
                async with aconnect_sse(self.http, **request) as source:
                    if not source.response.is_success:
                        raise error_for(source.response.status_code, await source.response.aread())
                    async for frame in source.aiter_sse():
                        yield feed.accept(frame)
                        if feed.finished:
                            return
            except DROPPED as exc:
                error = exc
            await asyncio.sleep(feed.closed(error))

    async def download(self, request: dict[str, Any], target: DownloadTarget) -> int:
        try:
            async with self.http.stream(**request) as response:
                if not response.is_success:
                    raise error_for(response.status_code, await response.aread())
                with download_sink(target) as sink:
                    written = 0
                    async for chunk in response.aiter_bytes():
                        written += sink.write(chunk)
                    return written
        except httpx.TransportError as exc:
            raise unreachable(request, exc) from exc
