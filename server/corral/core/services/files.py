"""The files inside a sandbox (the workspace's directory, shown as `/workspace`).

The file work itself lives in `corral.sandbox.files` and `writes` and runs in a worker thread;
this module looks the workspace up for the caller (404/403), refuses writes to a read-only
workspace and maps the results.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import math
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast, get_args

from corral import models
from corral.caller import Caller
from corral.core.services.downloads import byte_range, etag_listed
from corral.core.services.pagination import decode_offset, next_offset
from corral.core.workspace import access
from corral.errors import CorralError
from corral.results import FileResult
from corral.sandbox import files, writes
from corral.sandbox.entries import Entry
from corral.sandbox.writes import FileWriter
from corral.store import Store, WorkspaceRecord
from corral.surrogates import storable

MAX_READ_BYTES = 16 * 1024 * 1024  # a JSON read never carries more; `truncated` says so
UPLOAD_BUFFER_BYTES = 1 << 20  # network chunks are gathered to this size per disk write
LATEST_MTIME_MS = 253402300799999.0  # 9999-12-31T23:59:59.999Z


class FilesService:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def _workspace(
        self, caller: Caller, sandbox_id: str, *, writing: bool = False
    ) -> WorkspaceRecord:
        rec = await self.store.read(lambda tx: access.workspace(tx, caller, sandbox_id))
        if writing and rec.read_only:
            raise CorralError(
                "workspace_read_only",
                f"workspace {rec.id!r} is read-only",
                {"workspaceId": rec.id},
            )
        return rec

    async def list_sandbox_entries(
        self,
        caller: Caller,
        sandbox_id: str,
        *,
        path: str,
        page_size: int,
        cursor: str | None,
        sort_by: str,
        sort_order: str,
    ) -> models.WorkspaceEntryPage:
        offset = decode_offset(cursor)
        rec = await self._workspace(caller, sandbox_id)
        directory, entries = await asyncio.to_thread(
            files.list_entries,
            Path(rec.root_path),
            path,
            sort_by=_sort_key(sort_by),
            descending=sort_order == "desc",
        )
        page = entries[offset : offset + page_size + 1]
        return models.WorkspaceEntryPage(
            workspace_id=rec.id,
            path=directory.path,
            items=[_entry(e, rec) for e in page[:page_size]],
            next_cursor=next_offset(offset, page_size, len(page)),
        )

    async def stat_sandbox_file(
        self, caller: Caller, sandbox_id: str, *, path: str
    ) -> models.SandboxFileStat:
        rec = await self._workspace(caller, sandbox_id)
        e = await asyncio.to_thread(files.stat_entry, Path(rec.root_path), path)
        return models.SandboxFileStat(
            kind=_kind(e), size=e.size, mtime_ms=e.mtime_ms, birthtime_ms=e.ctime_ms, path=e.path
        )

    async def read_sandbox_file(
        self, caller: Caller, sandbox_id: str, *, path: str, encoding: str, max_bytes: int | None
    ) -> models.WorkspaceFileContent:
        rec = await self._workspace(caller, sandbox_id)
        limit = min(max_bytes or MAX_READ_BYTES, MAX_READ_BYTES)
        e, data, truncated = await asyncio.to_thread(
            files.read_file, Path(rec.root_path), path, limit=limit
        )
        if encoding == "base64":
            content = base64.b64encode(data).decode("ascii")
        else:
            content = _utf8(data, e.path, cut=truncated)
        return models.WorkspaceFileContent(
            workspace_id=rec.id,
            path=e.path,
            encoding=models.FileEncoding(encoding),
            content=content,
            truncated=truncated,
            size_bytes=e.size,
            mime_type=e.mime_type,
            etag=e.etag,
            updated_at=e.modified_at,
            read_only=rec.read_only,
        )

    async def write_sandbox_file(
        self, caller: Caller, sandbox_id: str, *, body: models.WriteFileRequest
    ) -> models.WorkspaceEntry:
        rec = await self._workspace(caller, sandbox_id, writing=True)
        data = _decode_content(body.content, body.encoding.value)
        e = await asyncio.to_thread(
            writes.write_file,
            Path(rec.root_path),
            body.path,
            data,
            overwrite=body.overwrite,
            if_match=body.if_match,
        )
        return _entry(e, rec)

    async def upload_sandbox_file(
        self,
        caller: Caller,
        sandbox_id: str,
        *,
        path: str,
        overwrite: bool,
        if_match: str | None,
        mtime_ms: float | None,
        body: AsyncIterator[bytes],
    ) -> models.WorkspaceEntry:
        if mtime_ms is not None and not (math.isfinite(mtime_ms) and mtime_ms <= LATEST_MTIME_MS):
            raise CorralError.invalid_request(
                "mtimeMs must be a time between 1970 and 9999", {"field": "mtimeMs"}
            )
        rec = await self._workspace(caller, sandbox_id, writing=True)
        chunks = aiter(body)
        first = await _first_bytes(chunks)
        writer = await asyncio.to_thread(
            FileWriter, Path(rec.root_path), path, overwrite=overwrite, if_match=if_match
        )
        try:
            buffer = bytearray(first)
            async for chunk in chunks:
                buffer += chunk
                if len(buffer) >= UPLOAD_BUFFER_BYTES:
                    await asyncio.to_thread(writer.write, buffer)
                    buffer.clear()
            await asyncio.to_thread(writer.write, buffer)
            e = await asyncio.to_thread(writer.commit, mtime_ms)
        finally:
            writer.close()  # without a commit (client gone, body too large): temp file removed
        return _entry(e, rec)

    async def download_sandbox_file(
        self,
        caller: Caller,
        sandbox_id: str,
        *,
        path: str,
        range_: str | None,
        if_none_match: str | None,
    ) -> FileResult:
        rec = await self._workspace(caller, sandbox_id)
        fd, e = await asyncio.to_thread(files.open_download, Path(rec.root_path), path)
        etag = e.etag or ""
        unchanged = etag_listed(if_none_match, etag)
        try:
            span = None if unchanged else byte_range(range_, e.size)
        except CorralError:
            os.close(fd)
            raise
        if unchanged:
            os.close(fd)
        return FileResult(
            fd=None if unchanged else fd,
            media_type=e.mime_type or "application/octet-stream",
            filename=e.name,
            size=e.size,
            etag=etag,
            modified_at=e.modified_at,
            span=span,
        )

    async def create_sandbox_directory(
        self, caller: Caller, sandbox_id: str, *, body: models.CreateDirectoryRequest
    ) -> models.WorkspaceEntry:
        rec = await self._workspace(caller, sandbox_id, writing=True)
        e = await asyncio.to_thread(
            writes.make_directory,
            Path(rec.root_path),
            body.path,
            create_parents=body.create_parents,
        )
        return _entry(e, rec)

    async def delete_sandbox_entry(
        self, caller: Caller, sandbox_id: str, *, path: str, recursive: bool
    ) -> models.WorkspaceDeleteResult:
        rec = await self._workspace(caller, sandbox_id, writing=True)
        e = await asyncio.to_thread(
            writes.delete_entry, Path(rec.root_path), path, recursive=recursive
        )
        return models.WorkspaceDeleteResult(
            workspace_id=rec.id, path=e.path, type=_kind(e), deleted=True
        )

    async def move_sandbox_entry(
        self, caller: Caller, sandbox_id: str, *, body: models.MoveEntryRequest
    ) -> models.WorkspaceEntry:
        rec = await self._workspace(caller, sandbox_id, writing=True)
        e = await asyncio.to_thread(
            writes.move_entry,
            Path(rec.root_path),
            body.source_path,
            body.target_path,
            overwrite=body.overwrite,
        )
        return _entry(e, rec)


def _kind(e: Entry) -> models.EntryType:
    return models.EntryType.directory if e.is_dir else models.EntryType.file


def _entry(e: Entry, rec: WorkspaceRecord) -> models.WorkspaceEntry:
    # A listed name that is not UTF-8 is shown with U+FFFD for its bytes (it cannot be served
    # as it is); a client reaches such a file through commands only.
    return models.WorkspaceEntry(
        path=storable(e.path),
        name=storable(e.name),
        type=_kind(e),
        size_bytes=None if e.is_dir else e.size,
        mime_type=e.mime_type,
        etag=e.etag,
        updated_at=e.modified_at,
        read_only=rec.read_only,
    )


def _sort_key(raw: str) -> files.SortKey:
    if raw not in get_args(files.SortKey):  # the contract's enum; checked again for the types
        raise CorralError.invalid_request(f"unknown sortBy {raw!r}", {"field": "sortBy"})
    return cast(files.SortKey, raw)


async def _first_bytes(chunks: AsyncIterator[bytes]) -> bytes:
    """The body's first bytes; none at all is a missing body (as Connexion counts JSON ones),
    refused before any file is touched. Empty files are written with PUT files/content."""
    async for chunk in chunks:
        if chunk:
            return chunk
    raise CorralError.invalid_request("the upload has no body", {"location": "body"})


def _utf8(data: bytes, path: str, *, cut: bool) -> str:
    """Decode strictly; a cut through a multi-byte character at the end is dropped."""
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=not cut)
    except UnicodeDecodeError:
        raise CorralError.invalid_request(
            f"{path} is not UTF-8 text; read it with encoding=base64",
            {"path": path, "encoding": "utf8"},
        ) from None


def _decode_content(content: str, encoding: str) -> bytes:
    if encoding == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except ValueError:  # binascii.Error, or characters outside ASCII
            raise CorralError.invalid_request(
                "content is not valid base64", {"field": "content"}
            ) from None
    try:
        return content.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON escapes
        raise CorralError.invalid_request(
            "content is not valid Unicode text", {"field": "content"}
        ) from None
