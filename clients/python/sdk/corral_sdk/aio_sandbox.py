"""`AsyncSandbox`: a workspace's files and commands, as `AsyncWorkspace.sandbox` offers them.
The sync `Sandbox` (`sandbox.py`) is generated from this module by `gen_sync.py`."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Mapping

from corral_client.models import (
    CommandResult,
    SandboxFileStat,
    WorkspaceDeleteResult,
    WorkspaceEntry,
)
from corral_sdk import _calls as calls
from corral_sdk._async_transport import AsyncTransport
from corral_sdk._bodies import AsyncUploadSource, DownloadTarget, async_upload
from corral_sdk._calls import CommandOptions


class AsyncSandbox:
    """The workspace's files and commands. Paths are absolute under `/workspace`, or relative
    to it."""

    def __init__(self, transport: AsyncTransport, sandbox_id: str) -> None:
        self._t = transport
        self.id = sandbox_id

    async def read(self, path: str, *, max_bytes: int | None = None) -> str:
        """A text file's content (UTF-8); `max_bytes` truncates."""
        return await self._t.call(calls.read_text(self.id, path, max_bytes))

    async def read_bytes(self, path: str, *, max_bytes: int | None = None) -> bytes:
        """A file's bytes, in one response: `download` streams large ones."""
        return await self._t.call(calls.read_bytes(self.id, path, max_bytes))

    async def write(
        self,
        path: str,
        content: str | bytes,
        *,
        overwrite: bool = True,
        if_match: str | None = None,
    ) -> WorkspaceEntry:
        """Write a file whole (parents are created). `if_match`: only if its etag is still
        this one (else `PreconditionFailed`)."""
        return await self._t.call(calls.write(self.id, path, content, overwrite, if_match))

    async def upload(
        self,
        path: str,
        source: AsyncUploadSource,
        *,
        overwrite: bool = True,
        if_match: str | None = None,
    ) -> WorkspaceEntry:
        """Stream `source` (bytes, a local `Path`, a binary file object or an iterable of
        chunks) into the file at `path`."""
        async with async_upload(source) as (body, size):
            upload = calls.upload(self.id, path, body, size, overwrite, if_match)
            return await self._t.call(upload)

    async def download(self, path: str, target: DownloadTarget) -> int:
        """Stream the file at `path` into `target` (a local `Path` or a binary file object);
        the number of bytes written."""
        return await self._t.download(calls.download(self.id, path), target)

    def list(
        self, path: str = "/workspace", *, page_size: int = 200
    ) -> AsyncIterator[WorkspaceEntry]:
        """The entries directly in a directory."""
        return self._t.pages(calls.entries_page(self.id, path, page_size))

    async def stat(self, path: str) -> SandboxFileStat:
        return await self._t.call(calls.stat(self.id, path))

    async def mkdir(self, path: str, *, parents: bool = True) -> WorkspaceEntry:
        return await self._t.call(calls.mkdir(self.id, path, parents))

    async def delete(self, path: str, *, recursive: bool = False) -> WorkspaceDeleteResult:
        return await self._t.call(calls.delete(self.id, path, recursive))

    async def move(self, source: str, target: str, *, overwrite: bool = False) -> WorkspaceEntry:
        return await self._t.call(calls.move(self.id, source, target, overwrite))

    async def run(
        self,
        command: str,
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        stdin: str | None = None,
    ) -> CommandResult:
        """Run a shell command to its end: stdout, stderr, exit code. `timeout` in seconds."""
        options = CommandOptions(cwd, env, timeout, stdin)
        return await self._t.call(calls.shell(self.id, command, options))

    async def exec(
        self,
        executable: str,
        args: builtins.list[str] | None = None,
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        stdin: str | None = None,
    ) -> CommandResult:
        """Run a program with arguments, no shell in between."""
        options = CommandOptions(cwd, env, timeout, stdin)
        return await self._t.call(calls.process(self.id, executable, list(args or ()), options))
