"""Fixtures of the native tool tests: a workspace root on disk with its command sandbox (no
isolation), a directory outside it that must never change, and a helper that calls a tool the
way the agent loop does (through `registry.invoke`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from corral.sandbox.isolation import Isolation
from corral.sandbox.process import Sandbox
from corral.testing.processes import running_processes
from corral.tools.base import ToolContext
from corral.tools.registry import ToolOutcome, invoke, native_tools

OUTPUT_LIMIT = 4096


@pytest.fixture
def root(tmp_path: Path) -> Path:
    place = tmp_path / "ws"
    place.mkdir()
    return place


@pytest.fixture
def ctx(root: Path) -> ToolContext:
    sandbox = Sandbox(root, Isolation("none"), output_limit=OUTPUT_LIMIT)
    return ToolContext(
        root, sandbox, "ses_test", "run_test", default_timeout_s=30, max_timeout_s=60
    )


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Path]:
    """A directory beside the workspace with a secret; checked unchanged after the test."""
    place = tmp_path / "outside"
    (place / "deep").mkdir(parents=True)
    (place / "secret.txt").write_text("top secret\n")
    (place / "deep" / "secret.py").write_text("SECRET = 'top secret'\n")
    before = tree_state(place)
    yield place
    assert tree_state(place) == before, "something outside the workspace changed"


def tree_state(place: Path) -> list[tuple[str, int, bytes]]:
    return [
        (str(p), p.lstat().st_mtime_ns, p.read_bytes() if p.is_file() else b"")
        for p in sorted(place.rglob("*"))
    ]


async def call(ctx: ToolContext, name: str, input: dict[str, Any]) -> ToolOutcome:
    (tool,) = native_tools([name])
    return await invoke(tool, ctx, input)


async def ok_text(ctx: ToolContext, name: str, input: dict[str, Any]) -> str:
    """The text of a call that must succeed."""
    outcome = await call(ctx, name, input)
    assert outcome.ok, outcome.error_message
    assert outcome.output["type"] == "text"
    return str(outcome.output["value"])


async def error_of(ctx: ToolContext, name: str, input: dict[str, Any]) -> tuple[str, str]:
    """The (code, message) of a call that must fail, checked to be an error-text result."""
    outcome = await call(ctx, name, input)
    assert not outcome.ok, outcome.output
    assert outcome.output == {"type": "error-text", "value": outcome.error_message}
    assert outcome.error_code is not None and outcome.error_message is not None
    return outcome.error_code, outcome.error_message


def live_group_members(pgid: int) -> list[int]:
    """Processes of the group that still run (this machine's init leaves zombies around)."""
    return [proc.pid for proc, _ in running_processes() if proc.group == pgid]
