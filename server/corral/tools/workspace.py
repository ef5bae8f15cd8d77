"""How the native tools reach the workspace: the path spellings they accept, the paths they
show, and the sandbox's blocking calls run in a thread with its errors turned into ToolErrors.

A model sees the workspace two ways: as the tools describe it (relative paths, or
`/workspace/...` as the sandbox spells it) and as its commands see it (the real absolute path
printed by `pwd`). Both are accepted; everything else absolute is refused. The spelling is only
translated here: confinement itself is `corral.sandbox.paths.resolve`'s work.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from typing import Any, TypeVar

from corral.errors import CorralError
from corral.sandbox.paths import VIRTUAL_ROOT
from corral.tools.base import ToolContext, ToolError

T = TypeVar("T")

# Sandbox codes that read better under a tool's own name; the rest pass through.
_TOOL_CODES = {
    "workspace_entry_not_found": "file_not_found",
    "workspace_file_not_found": "file_not_found",
    "invalid_sandbox_path": "invalid_path",
    "invalid_request": "invalid_tool_input",
    "workspace_precondition_failed": "file_changed",
}
# `/workspace/` (or the bare root) where a path starts in a sandbox message.
_VIRTUAL_PATH = re.compile(rf"(?<![\w/]){VIRTUAL_ROOT}(?:/|(?=[\s:,;)]|$))")


def sandbox_path(ctx: ToolContext, raw: str) -> str:
    """`raw` as the sandbox functions read it: an absolute path under the workspace's real
    location becomes `/workspace/...`; relative and `/workspace/...` paths pass unchanged."""
    if not raw.startswith("/"):
        return raw
    for real in dict.fromkeys((os.path.abspath(ctx.root), str(ctx.sandbox.root))):
        if raw == real or raw.startswith(real + "/"):
            return VIRTUAL_ROOT + raw[len(real) :]
    if raw == VIRTUAL_ROOT or raw.startswith(VIRTUAL_ROOT + "/"):
        return raw
    raise ToolError(
        "invalid_path",
        f"{raw} is outside the workspace: use a path relative to the workspace root "
        f"({ctx.sandbox.root})",
    )


def shown(virtual: str) -> str:
    """A sandbox path as the tools show it: relative to the workspace root."""
    return virtual[len(VIRTUAL_ROOT) :].lstrip("/") or "."


async def in_workspace(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking sandbox call in a thread; its `CorralError`s become `ToolError`s."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except CorralError as exc:
        raise tool_error(exc) from exc


def check_writable(ctx: ToolContext) -> None:
    """A tool that changes the workspace asks first: a read-only one refuses (its sandbox
    says so), before any path is looked at."""
    try:
        ctx.sandbox.check_writable()
    except CorralError as exc:
        raise tool_error(exc) from exc


def tool_error(exc: CorralError) -> ToolError:
    """The sandbox's error in the tools' words: paths shown as the tools show them."""
    message = exc.message
    path = (exc.details or {}).get("path")
    if isinstance(path, str) and path not in message:
        message = f"{message}: {path}"
    message = _VIRTUAL_PATH.sub(lambda m: "" if m[0].endswith("/") else ".", message)
    return ToolError(_TOOL_CODES.get(exc.code, exc.code), message)
