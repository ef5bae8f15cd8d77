"""Sandboxes (E2B-style handles over workspaces) and the files inside them.

The sandbox id is the workspace id and its root is shown as `/workspace`. The file work itself
lives in `corral.sandbox.files` and `writes` and runs in a worker thread; this module looks the
workspace up for the caller (404/403), refuses writes to a read-only workspace and maps the
results.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import math
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast, get_args

from corral import models
from corral.caller import Caller
from corral.core import access
from corral.core.downloads import byte_range, etag_listed
from corral.core.pagination import decode_offset, next_offset
from corral.core.workspaces import WorkspacesService
from corral.errors import CorralError
from corral.results import FileResult
from corral.sandbox import files, writes
from corral.sandbox.entries import Entry
from corral.sandbox.writes import FileWriter
from corral.store import ConflictError, Store, WorkspaceRecord
from corral.surrogates import storable

MAX_READ_BYTES = 16 * 1024 * 1024  # a JSON read never carries more; `truncated` says so
UPLOAD_BUFFER_BYTES = 1 << 20  # network chunks are gathered to this size per disk write
LATEST_MTIME_MS = 253402300799999.0  # 9999-12-31T23:59:59.999Z
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}", re.ASCII)


def sandbox(rec: WorkspaceRecord) -> models.Sandbox:
    return models.Sandbox(
        id=rec.id, workspace_id=rec.id, name=rec.name, provider=models.SandboxProvider.embedded,
        execution_model=models.SandboxExecutionModel.local_embedded,
        worker_placement=models.SandboxWorkerPlacement.api_process,
        execution_policy=models.ExecutionPolicy(rec.execution_policy),
        created_at=rec.created_at, updated_at=rec.updated_at,
    )  # fmt: skip


class SandboxesService:
    def __init__(self, store: Store, workspaces: WorkspacesService) -> None:
        self.store = store
        self.workspaces = workspaces

    async def get_sandbox(self, caller: Caller, sandbox_id: str) -> models.Sandbox:
        return sandbox(await self.store.read(lambda tx: access.workspace(tx, caller, sandbox_id)))

    async def create_sandbox(
        self, caller: Caller, *, body: models.CreateSandboxRequest
    ) -> tuple[int, models.Sandbox]:
        """200 with the workspace `workspaceId` names; else 201 with one created from a runtime
        (`name` + `runtime`, under that id if given) or imported from `rootPath`."""
        wanted = body.workspace_id
        if wanted is not None:
            existing = await self._existing(caller, wanted)
            if existing is not None:
                return 200, existing
            if not (body.name and body.runtime) and body.root_path is None:
                raise CorralError.not_found("workspace_not_found", "workspace", wanted)
            if not _CLIENT_ID.fullmatch(wanted):
                raise CorralError.invalid_request(
                    "a new workspaceId may hold only letters, digits, '_', '-' and '.' (1-128)",
                    {"field": "workspaceId"},
                )
        try:
            created = await self._create(caller, body)
        except ConflictError:  # a concurrent request created the same id first
            existing = await self._existing(caller, wanted or "")
            if existing is None:
                raise
            return 200, existing
        return 201, created

    async def _existing(self, caller: Caller, workspace_id: str) -> models.Sandbox | None:
        rec = await self.store.read(lambda tx: tx.get_workspace(workspace_id))
        if rec is None:
            return None
        caller.require_workspace(rec.id)
        return sandbox(rec)

    async def _create(self, caller: Caller, body: models.CreateSandboxRequest) -> models.Sandbox:
        if body.root_path is not None and not body.root_path.startswith("/"):
            raise CorralError.invalid_request(
                "rootPath must be an absolute path", {"field": "rootPath"}
            )
        shared = {"external_ref": body.external_ref, "owner_id": body.owner_id,
                  "service_name": body.service_name, "root_path": body.root_path}  # fmt: skip
        if body.name and body.runtime:
            policy = models.ExecutionPolicy(body.execution_policy.value)
            request = models.CreateWorkspaceRequest(
                name=body.name, runtime=body.runtime, execution_policy=policy, **shared
            )
            ws = await self.workspaces.create_workspace(
                caller, body=request, workspace_id=body.workspace_id
            )
        elif body.root_path is not None:
            ws = await self.workspaces.import_workspace(
                caller, body=models.ImportWorkspaceRequest(name=body.name, **shared),
                workspace_id=body.workspace_id,
            )  # fmt: skip
        else:
            raise CorralError.invalid_request(
                "give workspaceId, rootPath, or both name and runtime"
            )
        rec = await self.store.read(lambda tx: access.workspace(tx, caller, ws.id))
        return sandbox(rec)


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
        self, caller: Caller, sandbox_id: str, *, path: str, page_size: int, cursor: str | None,
        sort_by: str, sort_order: str,
    ) -> models.WorkspaceEntryPage:  # fmt: skip
        offset = decode_offset(cursor)
        rec = await self._workspace(caller, sandbox_id)
        directory, entries = await asyncio.to_thread(
            files.list_entries, Path(rec.root_path), path,
            sort_by=_sort_key(sort_by), descending=sort_order == "desc",
        )  # fmt: skip
        page = entries[offset : offset + page_size + 1]
        return models.WorkspaceEntryPage(
            workspace_id=rec.id, path=directory.path,
            items=[_entry(e, rec) for e in page[:page_size]],
            next_cursor=next_offset(offset, page_size, len(page)),
        )  # fmt: skip

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
            workspace_id=rec.id, path=e.path, encoding=models.FileEncoding(encoding),
            content=content, truncated=truncated, size_bytes=e.size, mime_type=e.mime_type,
            etag=e.etag, updated_at=e.modified_at, read_only=rec.read_only,
        )  # fmt: skip

    async def write_sandbox_file(
        self, caller: Caller, sandbox_id: str, *, body: models.WriteFileRequest
    ) -> models.WorkspaceEntry:
        rec = await self._workspace(caller, sandbox_id, writing=True)
        data = _decode_content(body.content, body.encoding.value)
        e = await asyncio.to_thread(
            writes.write_file, Path(rec.root_path), body.path, data,
            overwrite=body.overwrite, if_match=body.if_match,
        )  # fmt: skip
        return _entry(e, rec)

    async def upload_sandbox_file(
        self, caller: Caller, sandbox_id: str, *, path: str, overwrite: bool,
        if_match: str | None, mtime_ms: float | None, body: AsyncIterator[bytes],
    ) -> models.WorkspaceEntry:  # fmt: skip
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
        self, caller: Caller, sandbox_id: str, *, path: str, range_: str | None,
        if_none_match: str | None,
    ) -> FileResult:  # fmt: skip
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
            fd=None if unchanged else fd, media_type=e.mime_type or "application/octet-stream",
            filename=e.name, size=e.size, etag=etag, modified_at=e.modified_at, span=span,
        )  # fmt: skip

    async def create_sandbox_directory(
        self, caller: Caller, sandbox_id: str, *, body: models.CreateDirectoryRequest
    ) -> models.WorkspaceEntry:
        rec = await self._workspace(caller, sandbox_id, writing=True)
        e = await asyncio.to_thread(
            writes.make_directory, Path(rec.root_path), body.path,
            create_parents=body.create_parents,
        )  # fmt: skip
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
            writes.move_entry, Path(rec.root_path), body.source_path, body.target_path,
            overwrite=body.overwrite,
        )  # fmt: skip
        return _entry(e, rec)


def _kind(e: Entry) -> models.EntryType:
    return models.EntryType.directory if e.is_dir else models.EntryType.file


def _entry(e: Entry, rec: WorkspaceRecord) -> models.WorkspaceEntry:
    # A listed name that is not UTF-8 is shown with U+FFFD for its bytes (it cannot be served
    # as it is); a client reaches such a file through commands only.
    return models.WorkspaceEntry(
        path=storable(e.path), name=storable(e.name), type=_kind(e),
        size_bytes=None if e.is_dir else e.size, mime_type=e.mime_type, etag=e.etag,
        updated_at=e.modified_at, read_only=rec.read_only,
    )  # fmt: skip


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
