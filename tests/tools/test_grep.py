"""Grep in pure Python over real trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.tools import grep
from corral.tools.base import ToolContext

from .conftest import error_of, ok_text
from .test_listing import age


@pytest.fixture
def tree(root: Path) -> Path:
    (root / "src").mkdir()
    (root / "new.py").write_text("import os\nprint(os.sep)\n")
    (root / "src/mid.py").write_text("import sys\n\nOS = 'linux'\n")
    (root / "src/old.ts").write_text("// os\nconst os = 1;\r\n")
    (root / "notes.md").write_text("nothing here\n")
    age(root, "new.py", "src/mid.py", "src/old.ts", "notes.md")
    (root / ".git").mkdir()
    (root / ".git/os").write_text("os os os\n")
    (root / "blob.bin").write_bytes(b"os\0binary")
    return root


async def test_files_with_matches_newest_first(ctx: ToolContext, tree: Path) -> None:
    assert await ok_text(ctx, "Grep", {"pattern": r"\bos\b"}) == "new.py\nsrc/old.ts"
    text = await ok_text(ctx, "Grep", {"pattern": r"\bos\b", "-i": True})
    assert text == "new.py\nsrc/mid.py\nsrc/old.ts"
    assert await ok_text(ctx, "Grep", {"pattern": "absent"}) == "No matches found."


async def test_content_and_count_modes(ctx: ToolContext, tree: Path) -> None:
    text = await ok_text(ctx, "Grep", {"pattern": r"os\b", "output_mode": "content"})
    assert text.splitlines() == [
        "new.py:1:import os",
        "new.py:2:print(os.sep)",
        "src/old.ts:1:// os",
        "src/old.ts:2:const os = 1;",
    ]
    text = await ok_text(ctx, "Grep", {"pattern": "^import", "output_mode": "content", "-n": False})
    assert text == "new.py:import os\nsrc/mid.py:import sys"
    text = await ok_text(ctx, "Grep", {"pattern": r"os\b", "output_mode": "count"})
    assert text == "new.py:2\nsrc/old.ts:2"


async def test_glob_and_path_narrow_the_search(ctx: ToolContext, tree: Path) -> None:
    assert await ok_text(ctx, "Grep", {"pattern": "os", "glob": "*.ts"}) == "src/old.ts"
    text = await ok_text(ctx, "Grep", {"pattern": "(?i)os", "glob": "src/*.{py,md}"})
    assert text == "src/mid.py"
    assert await ok_text(ctx, "Grep", {"pattern": "os", "path": "src"}) == "src/old.ts"
    assert await ok_text(ctx, "Grep", {"pattern": "os", "path": "/workspace/new.py"}) == "new.py"


async def test_head_limit_cuts_and_says_so(ctx: ToolContext, tree: Path) -> None:
    text = await ok_text(ctx, "Grep", {"pattern": "os", "head_limit": 1})
    assert text == "new.py\n[results cut at 1: narrow the pattern, path or glob]"
    text = await ok_text(ctx, "Grep", {"pattern": "os", "output_mode": "content", "head_limit": 3})
    assert text.splitlines() == [
        "new.py:1:import os",
        "new.py:2:print(os.sep)",
        "src/old.ts:1:// os",
        "[results cut at 3: narrow the pattern, path or glob]",
    ]
    text = await ok_text(ctx, "Grep", {"pattern": "os", "output_mode": "count", "head_limit": 2})
    assert text == "new.py:2\nsrc/old.ts:2"  # exactly two files match: nothing was cut


async def test_files_too_large_are_skipped_and_counted(
    ctx: ToolContext, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grep, "MAX_GREP_FILE_BYTES", 22)
    text = await ok_text(ctx, "Grep", {"pattern": "os"})
    assert text == "src/old.ts\n[2 files over 22 bytes not searched]"


async def test_grep_errors(ctx: ToolContext, tree: Path) -> None:
    code, message = await error_of(ctx, "Grep", {"pattern": "(unclosed"})
    assert code == "invalid_pattern" and "missing )" in message
    assert (await error_of(ctx, "Grep", {"pattern": "x", "path": "nope"}))[0] == "file_not_found"
    for bad in ({}, {"pattern": "x", "output_mode": "lines"}, {"pattern": "x", "head_limit": 0}):
        assert (await error_of(ctx, "Grep", bad))[0] == "invalid_tool_input", bad
