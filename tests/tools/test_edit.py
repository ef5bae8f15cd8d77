"""Edit and MultiEdit: exact replacements, all or nothing, never over a newer version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from corral.sandbox import files
from corral.sandbox.entries import Entry
from corral.tools import edit
from corral.tools.base import ToolContext

from .conftest import error_of, ok_text

SOURCE = "def f():\n    return 1\n\n\ndef g():\n    return 1\n"


@pytest.fixture
def source(root: Path) -> Path:
    path = root / "m.py"
    path.write_text(SOURCE)
    return path


async def test_edit_replaces_a_unique_string(ctx: ToolContext, source: Path) -> None:
    text = await ok_text(
        ctx,
        "Edit",
        {
            "file_path": "m.py",
            "old_string": "def g():\n    return 1",
            "new_string": "def g():\n    return 2",
        },
    )
    assert text == "Edited m.py: 1 replacement."
    assert source.read_text() == SOURCE.replace("return 1\n", "return 2\n").replace(
        "return 2", "return 1", 1
    )


async def test_edit_refuses_an_ambiguous_string_unless_replace_all(
    ctx: ToolContext, source: Path
) -> None:
    change = {"file_path": "m.py", "old_string": "return 1", "new_string": "return 0"}
    code, message = await error_of(ctx, "Edit", change)
    assert code == "edit_ambiguous"
    assert message.startswith("m.py: old_string occurs 2 times;")
    assert source.read_text() == SOURCE
    text = await ok_text(ctx, "Edit", {**change, "replace_all": True})
    assert text == "Edited m.py: 2 replacements."
    assert source.read_text() == SOURCE.replace("return 1", "return 0")


async def test_edit_errors(ctx: ToolContext, root: Path, source: Path) -> None:
    (root / "blob").write_bytes(b"abc\0def")
    (root / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"file_path": "m.py", "old_string": "nope", "new_string": "x"}, "edit_not_found"),
        ({"file_path": "m.py", "old_string": "f", "new_string": "f"}, "invalid_tool_input"),
        ({"file_path": "m.py", "old_string": "", "new_string": "x"}, "invalid_tool_input"),
        ({"file_path": "m.py", "old_string": "f"}, "invalid_tool_input"),
        ({"file_path": "gone.py", "old_string": "a", "new_string": "b"}, "file_not_found"),
        ({"file_path": "blob", "old_string": "abc", "new_string": "x"}, "binary_file"),
        ({"file_path": "latin1.txt", "old_string": "caf", "new_string": "x"}, "binary_file"),
    ]
    for change, expected in cases:
        code, _ = await error_of(ctx, "Edit", change)
        assert code == expected, change
    assert source.read_text() == SOURCE
    assert not (root / "gone.py").exists()


async def test_multi_edit_applies_edits_in_order(ctx: ToolContext, source: Path) -> None:
    edits = [
        {"old_string": "def f", "new_string": "def first"},
        {"old_string": "return 1", "new_string": "return 9", "replace_all": True},
        {"old_string": "def first():\n    return 9", "new_string": "def first():\n    return 7"},
    ]
    text = await ok_text(ctx, "MultiEdit", {"file_path": "m.py", "edits": edits})
    assert text == "Edited m.py: 4 replacements."
    assert source.read_text() == "def first():\n    return 7\n\n\ndef g():\n    return 9\n"


async def test_multi_edit_is_all_or_nothing(ctx: ToolContext, source: Path) -> None:
    edits = [
        {"old_string": "def f", "new_string": "def first"},
        {"old_string": "def f()", "new_string": "def again()"},  # gone after the first edit
    ]
    code, message = await error_of(ctx, "MultiEdit", {"file_path": "m.py", "edits": edits})
    assert code == "edit_not_found"
    assert message.startswith("m.py: edit 2 of 2: old_string does not occur in the file")
    assert message.endswith("; nothing was changed")
    assert source.read_text() == SOURCE
    code, _ = await error_of(ctx, "MultiEdit", {"file_path": "m.py", "edits": []})
    assert code == "invalid_tool_input"


async def test_an_edit_never_overwrites_a_change_made_meanwhile(
    ctx: ToolContext, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_then_changed(root: Path, path: str, *, limit: int) -> tuple[Entry, bytes, bool]:
        read = files.read_file(root, path, limit=limit)
        source.write_text(SOURCE + "# added by someone else\n")
        return read

    monkeypatch.setattr(edit, "read_file", read_then_changed)
    change = {"file_path": "m.py", "old_string": "def f", "new_string": "def h"}
    assert await error_of(ctx, "Edit", change) == (
        "file_changed",
        "m.py changed while it was edited; read it again",
    )
    assert source.read_text() == SOURCE + "# added by someone else\n"


async def test_edit_through_a_link_inside_the_workspace_changes_its_target(
    ctx: ToolContext, root: Path, source: Path
) -> None:
    (root / "alias.py").symlink_to("m.py")
    text = await ok_text(
        ctx, "Edit", {"file_path": "alias.py", "old_string": "def g", "new_string": "def k"}
    )
    assert text == "Edited m.py: 1 replacement."
    assert (root / "alias.py").is_symlink()
    assert "def k" in source.read_text()
