"""No native tool reaches outside the workspace root: not by `..`, not by an absolute path,
not through a symbolic link (to a file, to a directory, or met in the middle of a walk). The
`outside` fixture checks afterwards that nothing there changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from corral.tools.base import ToolContext

from .conftest import call, ok_text

Input = Callable[[str], dict[str, Any]]

INPUTS: dict[str, Input] = {
    "Read": lambda p: {"file_path": p},
    "Write": lambda p: {"file_path": p, "content": "pwned"},
    "Write (below)": lambda p: {"file_path": f"{p}/new.txt", "content": "pwned"},
    "Edit": lambda p: {"file_path": p, "old_string": "top secret", "new_string": "pwned"},
    "MultiEdit": lambda p: {
        "file_path": p,
        "edits": [{"old_string": "top", "new_string": "pwned"}],
    },
    "LS": lambda p: {"path": p},
    "Glob (path)": lambda p: {"pattern": "**/*", "path": p},
    "Glob (pattern)": lambda p: {"pattern": f"{p}/**/*"},
    "Grep": lambda p: {"pattern": "secret", "path": p},
}


@pytest.fixture
def linked(root: Path, outside: Path) -> Path:
    """A workspace whose links lead outside: to a file, to directories (absolute and
    relative), one of them deep in the tree."""
    (root / "sub/deeper").mkdir(parents=True)
    (root / "sub/deeper/mine.txt").write_text("mine, not secret\n")
    (root / "file-link").symlink_to(outside / "secret.txt")
    (root / "rel-link").symlink_to("../outside/secret.txt")
    (root / "dir-link").symlink_to(outside)
    (root / "sub/deeper/dir-link").symlink_to("../../../outside")
    return root


def hostile(root: Path, outside: Path) -> list[str]:
    return [
        "..",
        "../outside/secret.txt",
        "sub/../../outside/secret.txt",
        "/workspace/../outside/secret.txt",
        "/workspace/..",
        str(outside),
        str(outside / "secret.txt"),
        f"{root}/../outside/secret.txt",
        f"{root}-sibling/secret.txt",
        "/etc/passwd",
        "/",
        "file-link",
        "rel-link",
        "dir-link",
        "dir-link/secret.txt",
        "dir-link/deep",
        "sub/deeper/dir-link",
        "sub/deeper/dir-link/deep/secret.py",
        f"{root}/dir-link/secret.txt",
    ]


@pytest.mark.parametrize("tool", INPUTS)
async def test_every_hostile_path_is_refused(
    tool: str, ctx: ToolContext, linked: Path, outside: Path
) -> None:
    for path in hostile(linked, outside):
        outcome = await call(ctx, tool.split(" ")[0], INPUTS[tool](path))
        assert (outcome.ok, outcome.error_code) == (False, "invalid_path"), (path, outcome)
        assert "top secret" not in outcome.output["value"], path


async def test_walks_never_follow_a_link_outside(ctx: ToolContext, linked: Path) -> None:
    assert await ok_text(ctx, "Glob", {"pattern": "**/*"}) == "sub/deeper/mine.txt"
    assert await ok_text(ctx, "Grep", {"pattern": "secret"}) == "sub/deeper/mine.txt"
    text = await ok_text(ctx, "Grep", {"pattern": "secret", "path": "sub"})
    assert text == "sub/deeper/mine.txt"
    assert await ok_text(ctx, "LS", {}) == "./\n  sub/"  # links leading outside are not shown
    assert await ok_text(ctx, "LS", {"path": "sub/deeper"}) == "sub/deeper/\n  mine.txt  (17 B)"


async def test_links_that_stay_inside_work(ctx: ToolContext, linked: Path) -> None:
    (linked / "alias").symlink_to("sub/deeper")
    assert await ok_text(ctx, "Read", {"file_path": "alias/mine.txt"}) == (
        "     1\tmine, not secret"
    )
    assert await ok_text(ctx, "Glob", {"pattern": "alias/*"}) == "sub/deeper/mine.txt"
