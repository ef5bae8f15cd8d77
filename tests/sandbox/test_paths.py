"""Path resolution inside a workspace root (unit tests of corral.sandbox.paths)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corral.errors import CorralError
from corral.sandbox.paths import parse, resolve, resolve_cwd


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """ws/{a/b/, file.txt, links…} beside out/ (outside the root)."""
    ws, out = tmp_path / "ws", tmp_path / "out"
    (ws / "a" / "b").mkdir(parents=True)
    out.mkdir()
    (ws / "file.txt").write_text("x")
    (ws / "to_b").symlink_to("a/b")
    (ws / "to_b_abs").symlink_to(ws / "a" / "b")
    (ws / "a" / "up").symlink_to("..")
    (ws / "a" / "upup").symlink_to("../..")
    (ws / "dangling").symlink_to("a/nothing.txt")
    (ws / "escape").symlink_to("../out")
    return ws


def code_of(root: Path, path: str, **kwargs: bool) -> str:
    with pytest.raises(CorralError) as caught, resolve(root, path, **kwargs):
        pass
    return caught.value.code


@pytest.mark.parametrize(
    ("raw", "parts"),
    [
        ("", []),
        (".", []),
        ("/workspace", []),
        ("/workspace/", []),
        ("//workspace//a/./b/", ["a", "b"]),
        ("a/../b", ["b"]),
        ("a/b/../../c/..", []),
        ("résumé €.txt", ["résumé €.txt"]),
        ("%2e%2e", ["%2e%2e"]),  # a literal name: the URL layer decodes exactly once
    ],
)
def test_parse_accepts(raw: str, parts: list[str]) -> None:
    assert parse(raw) == parts


@pytest.mark.parametrize(
    "raw",
    [
        "/etc",
        "/workspacex/a",
        "/",
        "..",
        "a/../..",
        "/workspace/..",
        "a\x00b",
        "a\nb",
        "a\u202eb",
        "a\\b",
        "\uff0e\uff0e",
        "x/\u2024\u2024/y",
        "a\uff0fb",
        "a" * 256,
        "é" * 128,
        "/".join(["é" * 100] * 21),
        "\ud800",
    ],
)
def test_parse_refuses(raw: str) -> None:
    with pytest.raises(CorralError) as caught:
        parse(raw)
    assert (caught.value.code, caught.value.status) == ("invalid_sandbox_path", 400)


@pytest.mark.parametrize(
    ("raw", "virtual"),
    [
        ("/workspace", "/workspace"),
        ("a/b", "/workspace/a/b"),
        ("to_b", "/workspace/a/b"),
        ("to_b_abs/x/..", "/workspace/a/b"),
        ("a/up/file.txt", "/workspace/file.txt"),
        ("a/b/../..", "/workspace"),
        ("dangling", "/workspace/a/nothing.txt"),
    ],
)
def test_resolve_follows_links_that_stay_inside(root: Path, raw: str, virtual: str) -> None:
    with resolve(root, raw) as target:
        assert target.virtual == virtual


def test_resolve_without_following_gives_the_link(root: Path) -> None:
    with resolve(root, "to_b", follow=False) as target:
        assert target.virtual == "/workspace/to_b" and target.exists and not target.is_dir
    assert code_of(root, "escape", follow=False) == "invalid_sandbox_path"


@pytest.mark.parametrize(
    "raw", ["..", "a/../..", "escape", "escape/x", "a/upup", "a/upup/ws", "a/up/escape"]
)
def test_resolve_refuses_escapes(root: Path, raw: str) -> None:
    assert code_of(root, raw) == "invalid_sandbox_path"


def test_resolve_refuses_special_files_and_loops(root: Path) -> None:
    os.mkfifo(root / "fifo")
    (root / "loop1").symlink_to("loop2")
    (root / "loop2").symlink_to("loop1")
    for raw in ("fifo", "fifo/x", "loop1", "loop1/x"):
        assert code_of(root, raw) == "invalid_sandbox_path", raw


def test_missing_parents_are_404_or_created(root: Path) -> None:
    assert code_of(root, "no/such/file") == "workspace_entry_not_found"
    assert code_of(root, "file.txt/x", create_parents=True) == "workspace_entry_conflict"
    with resolve(root, "new/deeper/file", create_parents=True) as target:
        assert not target.exists
    assert (root / "new" / "deeper").is_dir()


def test_resolve_cwd(root: Path) -> None:
    real = Path(os.path.realpath(root))
    assert resolve_cwd(root, None) == real
    assert resolve_cwd(root, "/workspace/to_b") == real / "a" / "b"
    for bad, code in [
        ("file.txt", "invalid_sandbox_path"),
        ("..", "invalid_sandbox_path"),
        ("nope", "workspace_entry_not_found"),
    ]:
        with pytest.raises(CorralError) as caught:
            resolve_cwd(root, bad)
        assert caught.value.code == code
