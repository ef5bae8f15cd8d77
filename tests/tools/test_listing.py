"""LS and Glob over real trees."""

from __future__ import annotations

import os
from pathlib import Path

from corral.tools.base import ToolContext
from corral.tools.listing import MAX_GLOB_RESULTS

from .conftest import error_of, ok_text


def make_tree(root: Path, *files: str) -> None:
    """Files holding their own names, each older than the one before."""
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    age(root, *files)


def age(root: Path, *files: str) -> None:
    """Give each file an mtime older than the one before (so not the order of their names)."""
    for number, name in enumerate(files):
        stamp = 1_700_000_000 - number * 60
        os.utime(root / name, (stamp, stamp))


async def test_ls_lists_one_directory(ctx: ToolContext, root: Path) -> None:
    make_tree(root, "src/b.py", "src/a.txt", "src/pkg/x.py", "README")
    assert await ok_text(ctx, "LS", {}) == "./\n  README  (6 B)\n  src/"
    text = await ok_text(ctx, "LS", {"path": "src", "ignore": ["*.txt"]})
    assert text == "src/\n  b.py  (8 B)\n  pkg/"


async def test_ls_of_an_empty_directory_a_file_and_nothing(ctx: ToolContext, root: Path) -> None:
    (root / "empty").mkdir()
    (root / "f").write_text("")
    assert await ok_text(ctx, "LS", {"path": "/workspace/empty"}) == "empty/\n  (empty)"
    assert await error_of(ctx, "LS", {"path": "f"}) == (
        "workspace_entry_conflict",
        "f is not a directory",
    )
    assert (await error_of(ctx, "LS", {"path": "nope"}))[0] == "file_not_found"


async def test_glob_matches_paths_newest_first(ctx: ToolContext, root: Path) -> None:
    make_tree(root, "z.py", "src/a.py", "src/deep/er/b.py", "src/c.txt", "docs/d.md")
    assert await ok_text(ctx, "Glob", {"pattern": "**/*.py"}) == "z.py\nsrc/a.py\nsrc/deep/er/b.py"
    assert await ok_text(ctx, "Glob", {"pattern": "*.py"}) == "z.py"
    assert await ok_text(ctx, "Glob", {"pattern": "src/*"}) == "src/a.py\nsrc/c.txt"
    text = await ok_text(ctx, "Glob", {"pattern": "**/*.{txt,md}"})
    assert text == "src/c.txt\ndocs/d.md"
    assert await ok_text(ctx, "Glob", {"pattern": "**/b.py", "path": "src/deep"}) == (
        "src/deep/er/b.py"
    )
    assert await ok_text(ctx, "Glob", {"pattern": "*.rs"}) == "No files found."


async def test_glob_accepts_absolute_patterns_inside_the_workspace(
    ctx: ToolContext, root: Path
) -> None:
    make_tree(root, "src/a.py", "b.py")
    for pattern in ("/workspace/src/*.py", f"{ctx.sandbox.root}/src/*.py", f"{root}/**/a.py"):
        assert await ok_text(ctx, "Glob", {"pattern": pattern}) == "src/a.py", pattern


async def test_glob_skips_git_and_caps_its_results(ctx: ToolContext, root: Path) -> None:
    make_tree(
        root,
        ".git/config",
        ".github/ci.yml",
        *(f"many/f{n:03}.txt" for n in range(MAX_GLOB_RESULTS + 5)),
    )
    assert await ok_text(ctx, "Glob", {"pattern": "**/*.{yml,config}"}) == ".github/ci.yml"
    assert await ok_text(ctx, "Glob", {"pattern": "**/config"}) == "No files found."
    # Only the walk passes .git over: a pattern that starts inside it is taken at its word.
    assert await ok_text(ctx, "Glob", {"pattern": ".git/*"}) == ".git/config"
    lines = (await ok_text(ctx, "Glob", {"pattern": "many/*.txt"})).splitlines()
    assert lines[0] == "many/f000.txt"  # the newest
    assert len(lines) == MAX_GLOB_RESULTS + 1
    expected = f"[{MAX_GLOB_RESULTS} of {MAX_GLOB_RESULTS + 5} files shown: narrow the pattern]"
    assert lines[-1] == expected


async def test_glob_of_a_missing_directory(ctx: ToolContext) -> None:
    assert await error_of(ctx, "Glob", {"pattern": "nope/**/*.py"}) == (
        "file_not_found",
        "nope does not exist",
    )
