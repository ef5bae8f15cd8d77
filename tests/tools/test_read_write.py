"""Read and Write on real files."""

from __future__ import annotations

import os
from pathlib import Path

from corral.tools.base import ToolContext
from corral.tools.native import MAX_LINE_CHARS

from .conftest import call, error_of, ok_text


async def test_read_numbers_lines_like_cat_n(ctx: ToolContext, root: Path) -> None:
    (root / "a.txt").write_text("one\r\ntwo\n\nfour")
    text = await ok_text(ctx, "Read", {"file_path": "a.txt"})
    assert text == "     1\tone\n     2\ttwo\n     3\t\n     4\tfour"


async def test_read_accepts_every_spelling_of_a_path(ctx: ToolContext, root: Path) -> None:
    (root / "d").mkdir()
    (root / "d/a.txt").write_text("x\n")
    for spelling in (
        "d/a.txt",
        "./d/../d/a.txt",
        "/workspace/d/a.txt",
        str(root / "d/a.txt"),
        f"{ctx.sandbox.root}/d/a.txt",
    ):
        outcome = await call(ctx, "Read", {"file_path": spelling})
        assert outcome.output["value"] == "     1\tx", spelling
        assert outcome.metadata == {"path": "d/a.txt"}


async def test_read_pages_with_offset_and_limit(ctx: ToolContext, root: Path) -> None:
    (root / "a.txt").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    text = await ok_text(ctx, "Read", {"file_path": "a.txt", "offset": 4, "limit": 2})
    assert text == "     4\tline 4\n     5\tline 5\n… more lines follow: continue with offset=6"
    text = await ok_text(ctx, "Read", {"file_path": "a.txt", "offset": 9})
    assert text == "     9\tline 9\n    10\tline 10"


async def test_read_caps_lines_at_2000_by_default(ctx: ToolContext, root: Path) -> None:
    (root / "big.txt").write_text("x\n" * 2500)
    lines = (await ok_text(ctx, "Read", {"file_path": "big.txt"})).splitlines()
    assert len(lines) == 2001
    assert lines[-2] == "  2000\tx"
    assert lines[-1] == "… more lines follow: continue with offset=2001"


async def test_read_cuts_long_lines(ctx: ToolContext, root: Path) -> None:
    (root / "min.js").write_text("é" * 50_000 + "\nnext\n")
    first, second = (await ok_text(ctx, "Read", {"file_path": "min.js"})).splitlines()
    assert first == f"     1\t{'é' * MAX_LINE_CHARS}… [line cut at {MAX_LINE_CHARS} characters]"
    assert second == "     2\tnext"


async def test_read_edge_cases(ctx: ToolContext, root: Path) -> None:
    (root / "empty").write_text("")
    (root / "two").write_text("a\nb\n")
    assert await ok_text(ctx, "Read", {"file_path": "empty"}) == "(the file is empty)"
    text = await ok_text(ctx, "Read", {"file_path": "two", "offset": 5})
    assert text == "(the file has 2 lines; offset 5 is past its end)"


async def test_read_refuses_binary_files_directories_and_missing_files(
    ctx: ToolContext, root: Path
) -> None:
    (root / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (root / "dir").mkdir()
    assert await error_of(ctx, "Read", {"file_path": "img.png"}) == (
        "binary_file",
        "img.png is a binary file; Read shows text only",
    )
    assert await error_of(ctx, "Read", {"file_path": "dir"}) == (
        "workspace_entry_conflict",
        "dir is a directory",
    )
    assert await error_of(ctx, "Read", {"file_path": "nope.txt"}) == (
        "file_not_found",
        "nope.txt does not exist",
    )


async def test_read_input_is_validated(ctx: ToolContext) -> None:
    for bad in (
        {},
        {"file_path": ""},
        {"file_path": "a", "offset": 0},
        {"file_path": "a", "limit": 2001},
        {"file_path": 3},
    ):
        code, _ = await error_of(ctx, "Read", bad)
        assert code == "invalid_tool_input", bad


async def test_write_creates_parents_and_replaces_atomically(ctx: ToolContext, root: Path) -> None:
    text = await ok_text(ctx, "Write", {"file_path": "a/b/c.txt", "content": "héllo\n"})
    assert text == "Wrote 7 bytes to a/b/c.txt."
    assert (root / "a/b/c.txt").read_text() == "héllo\n"
    target = root / "a/b/c.txt"
    target.chmod(0o600)
    inode = target.stat().st_ino
    await ok_text(ctx, "Write", {"file_path": "/workspace/a/b/c.txt", "content": "new"})
    assert target.read_text() == "new"
    assert target.stat().st_ino != inode  # a new file renamed over the old one
    assert target.stat().st_mode & 0o777 == 0o600  # the old file's mode is kept
    assert os.listdir(root / "a/b") == ["c.txt"]  # no temp file left behind


async def test_write_refuses_a_directory_and_invalid_text(ctx: ToolContext, root: Path) -> None:
    (root / "dir").mkdir()
    assert await error_of(ctx, "Write", {"file_path": "dir", "content": "x"}) == (
        "workspace_entry_conflict",
        "dir is a directory",
    )
    assert await error_of(ctx, "Write", {"file_path": "s.txt", "content": "\ud800"}) == (
        "invalid_tool_input",
        "content is not valid Unicode text",
    )
    code, _ = await error_of(ctx, "Write", {"file_path": "x.txt"})
    assert code == "invalid_tool_input"
    assert sorted(os.listdir(root)) == ["dir"]
