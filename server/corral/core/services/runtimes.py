"""Workspace templates (runtimes): listed, uploaded as zips, replaced and deleted."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from corral import models
from corral.caller import Caller
from corral.core.workspace.runtime_library import RuntimeInfo, RuntimeLibrary
from corral.errors import CorralError


def _summary(info: RuntimeInfo) -> models.RuntimeSummary:
    return models.RuntimeSummary(
        name=info.name, description=info.description, built_in=info.built_in
    )


class RuntimesService:
    def __init__(self, library: RuntimeLibrary, upload_dir: Path) -> None:
        self.library = library
        self.upload_dir = upload_dir

    async def list_runtimes(self, caller: Caller) -> models.RuntimeList:
        infos = await asyncio.to_thread(self.library.list)
        return models.RuntimeList(items=[_summary(i) for i in infos])

    async def upload_runtime(
        self, caller: Caller, *, name: str, overwrite: bool, body: AsyncIterator[bytes]
    ) -> models.RuntimeSummary:
        caller.require_unrestricted("upload runtimes")
        async with spooled(body, self.upload_dir) as archive:
            info = await asyncio.to_thread(
                self.library.install_zip, name, archive, overwrite=overwrite
            )
        return _summary(info)

    async def replace_runtime(
        self, caller: Caller, runtime_name: str, *, body: AsyncIterator[bytes]
    ) -> models.RuntimeSummary:
        caller.require_unrestricted("replace runtimes")
        async with spooled(body, self.upload_dir) as archive:
            info = await asyncio.to_thread(self.library.replace_zip, runtime_name, archive)
        return _summary(info)

    async def delete_runtime(self, caller: Caller, runtime_name: str) -> None:
        caller.require_unrestricted("delete runtimes")
        await asyncio.to_thread(self.library.delete, runtime_name)


@asynccontextmanager
async def spooled(body: AsyncIterator[bytes], directory: Path) -> AsyncIterator[Path]:
    """Stream an upload into a temporary file that is removed on exit, whatever happens."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, suffix=".zip")
    path = Path(name)
    try:
        size = 0
        with open(fd, "wb") as out:
            async for chunk in body:
                size += len(chunk)
                out.write(chunk)  # page-cache writes of one chunk: cheaper than a thread hop
        if size == 0:
            raise CorralError("empty_runtime_zip", "the request body is empty; send a zip")
        yield path
    finally:
        path.unlink(missing_ok=True)
