"""`corral.sandbox.walk.walk_files`: the confined tree walk under Glob and Grep."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corral.errors import CorralError
from corral.sandbox import walk
from corral.sandbox.walk import walk_files


def walked(root: Path, path: str = ".", **kwargs: frozenset[str]) -> list[tuple[str, str]]:
    return [(relative, target.virtual) for relative, target in walk_files(root, path, **kwargs)]


@pytest.fixture
def tree(root: Path, outside: Path) -> Path:
    for name in ("b.txt", "a/z.txt", "a/b/c.txt", ".git/HEAD", "a/.git/x"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    (root / "a/link-in.txt").symlink_to("z.txt")  # inside, but a link: not yielded
    (root / "a/b/link-out").symlink_to(outside)  # a directory link in the middle of the walk
    (root / "secret.txt").symlink_to(outside / "secret.txt")
    (root / "dir-in").symlink_to("a")  # a link to a directory inside: not entered
    os.mkfifo(root / "a/fifo")
    return root


def test_yields_regular_files_depth_first_without_following_links(tree: Path) -> None:
    assert walked(tree) == [
        ("b.txt", "/workspace/b.txt"),
        (".git/HEAD", "/workspace/.git/HEAD"),
        ("a/z.txt", "/workspace/a/z.txt"),
        ("a/.git/x", "/workspace/a/.git/x"),
        ("a/b/c.txt", "/workspace/a/b/c.txt"),
    ]


def test_skips_named_directories_at_any_depth(tree: Path) -> None:
    assert [r for r, _ in walked(tree, skip_dirs=frozenset({".git"}))] == [
        "b.txt",
        "a/z.txt",
        "a/b/c.txt",
    ]


def test_starts_anywhere_inside_even_through_a_link(tree: Path) -> None:
    assert walked(tree, "a/b") == [("c.txt", "/workspace/a/b/c.txt")]
    assert walked(tree, "/workspace/dir-in/b") == [("c.txt", "/workspace/a/b/c.txt")]
    assert walked(tree, "a/z.txt") == [("z.txt", "/workspace/a/z.txt")]


def test_a_start_outside_is_refused(tree: Path) -> None:
    for start in ("..", "secret.txt", "a/b/link-out", "a/b/link-out/deep", "/etc"):
        with pytest.raises(CorralError) as caught:
            walked(tree, start)
        assert caught.value.code == "invalid_sandbox_path", start


def test_the_yielded_target_reads_the_walked_file(tree: Path) -> None:
    for relative, target in walk_files(tree, "a"):
        assert target.stat is not None
        assert os.stat(target.name, dir_fd=target.parent_fd).st_ino == target.stat.st_ino
        assert (tree / "a" / relative).read_text() == f"a/{relative}"


def test_depth_is_bounded(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walk, "MAX_DEPTH", 1)
    assert [r for r, _ in walked(tree)] == ["b.txt", ".git/HEAD", "a/z.txt"]


def test_a_directory_swapped_for_a_link_is_passed_over(tree: Path, outside: Path) -> None:
    found = []
    for relative, _ in walk_files(tree, "."):
        found.append(relative)
        if relative == "a/z.txt":  # `a/b` is listed already, not yet entered
            os.rename(tree / "a/b", tree / "moved")
            (tree / "a/b").symlink_to(outside)
    assert found == ["b.txt", ".git/HEAD", "a/z.txt", "a/.git/x"]
