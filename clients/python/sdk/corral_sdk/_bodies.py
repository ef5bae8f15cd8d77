"""Large file bodies, streamed both ways: what an upload reads from and a download writes to.

An upload source is bytes, a local path (`pathlib.Path`), a binary file object or an iterable
of byte chunks (for the async client also an async iterable). Paths and file objects are read
in chunks, never whole; their size, when known, is sent as Content-Length.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import IO, Any, cast

CHUNK = 256 * 1024

UploadSource = bytes | os.PathLike[str] | IO[bytes] | Iterable[bytes]
AsyncUploadSource = UploadSource | AsyncIterable[bytes]
DownloadTarget = os.PathLike[str] | IO[bytes]


def _file(source: object) -> IO[bytes] | None:
    """A binary file object (checked before iterables: files iterate by line)."""
    return cast(IO[bytes], source) if callable(getattr(source, "read", None)) else None


def _size(file: IO[bytes]) -> int | None:
    """Bytes left to read in a seekable file; None for pipes and the like."""
    with suppress(OSError, ValueError):
        if file.seekable():
            here = file.tell()
            end = file.seek(0, os.SEEK_END)
            file.seek(here)
            return max(end - here, 0)
    return None


@contextmanager
def sync_upload(source: UploadSource) -> Iterator[tuple[Any, int | None]]:
    """(body httpx can send from a sync client, its size if known)."""
    if isinstance(source, bytes):
        yield source, len(source)
    elif isinstance(source, os.PathLike):
        with open(source, "rb") as file:
            yield _chunks(file), _size(file)
    elif (reader := _file(source)) is not None:
        yield _chunks(reader), _size(reader)
    else:
        yield source, None


@asynccontextmanager
async def async_upload(source: AsyncUploadSource) -> AsyncIterator[tuple[Any, int | None]]:
    """(body httpx can send from an async client, its size if known): local files are read in
    a worker thread so the event loop never waits on the disk."""
    if isinstance(source, bytes):
        yield source, len(source)
    elif isinstance(source, os.PathLike):
        file = await asyncio.to_thread(open, source, "rb")
        try:
            yield _thread_chunks(file), _size(file)
        finally:
            await asyncio.to_thread(file.close)
    elif (reader := _file(source)) is not None:
        yield _thread_chunks(reader), _size(reader)
    elif isinstance(source, AsyncIterable):
        yield source, None
    else:
        yield _async_chunks(source), None


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    while chunk := file.read(CHUNK):
        yield chunk


async def _thread_chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(file.read, CHUNK):
        yield chunk


async def _async_chunks(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@contextmanager
def download_sink(target: DownloadTarget) -> Iterator[IO[bytes]]:
    """Where downloaded chunks are written: the file at a path (created or truncated), or the
    caller's file object (left open)."""
    if isinstance(target, os.PathLike):
        with open(target, "wb") as file:
            yield file
    else:
        yield target
