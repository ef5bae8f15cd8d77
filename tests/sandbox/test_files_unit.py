"""File operations over a root (unit tests of corral.sandbox.files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corral.errors import CorralError
from corral.sandbox import files, writes
from corral.sandbox.writes import FileWriter

from .conftest import all_at_once


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def error(call: object, *args: object, **kwargs: object) -> tuple[str, int]:
    with pytest.raises(CorralError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value.code, caught.value.status


def test_write_read_and_etag(root: Path) -> None:
    entry = writes.write_file(root, "docs/a.md", b"# hi\n", overwrite=True, if_match=None)
    st = (root / "docs" / "a.md").stat()
    assert entry.path == "/workspace/docs/a.md" and entry.mime_type == "text/markdown"
    assert entry.etag == f'W/"5-{st.st_mtime_ns // 1_000_000:x}-{st.st_ino:x}"'
    got, data, truncated = files.read_file(root, "/workspace/docs/a.md", limit=3)
    assert (got.etag, data, truncated) == (entry.etag, b"# h", True)
    assert files.read_file(root, "docs/a.md", limit=5)[1:] == (b"# hi\n", False)


def test_write_preconditions(root: Path) -> None:
    first = writes.write_file(root, "f.txt", b"one", overwrite=True, if_match=None)
    assert error(writes.write_file, root, "f.txt", b"x", overwrite=False, if_match=None) == (
        "workspace_entry_exists",
        409,
    )
    assert error(writes.write_file, root, "f.txt", b"x", overwrite=True, if_match='W/"0-0-0"') == (
        "workspace_precondition_failed",
        412,
    )
    assert error(writes.write_file, root, "no/dir/f", b"x", overwrite=True, if_match='"x"') == (
        "workspace_precondition_failed",
        412,
    )
    assert not (root / "no").exists()
    (root / "d").mkdir()
    assert error(writes.write_file, root, "d", b"x", overwrite=True, if_match=None) == (
        "workspace_entry_conflict",
        409,
    )
    second = writes.write_file(root, "f.txt", b"two", overwrite=True, if_match=first.etag)
    assert second.etag != first.etag and (root / "f.txt").read_bytes() == b"two"
    assert [p.name for p in root.iterdir() if p.name.startswith(".corral")] == []


def test_overwrite_keeps_the_mode(root: Path) -> None:
    script = root / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o750)
    writes.write_file(root, "run.sh", b"#!/bin/sh\necho hi\n", overwrite=True, if_match=None)
    assert script.stat().st_mode & 0o777 == 0o750


def test_an_unfinished_writer_leaves_nothing(root: Path) -> None:
    (root / "keep.txt").write_bytes(b"old")
    with FileWriter(root, "keep.txt", overwrite=True, if_match=None) as writer:
        writer.write(b"half of the new content")
    assert (root / "keep.txt").read_bytes() == b"old"
    assert sorted(p.name for p in root.iterdir()) == ["keep.txt"]


def test_upload_sets_mtime(root: Path) -> None:
    with FileWriter(root, "t.bin", overwrite=True, if_match=None) as writer:
        writer.write(b"abc")
        entry = writer.commit(mtime_ms=1_700_000_000_123)
    assert (root / "t.bin").stat().st_mtime_ns == 1_700_000_000_123_000_000
    assert entry.mtime_ms == 1_700_000_000_123


def test_list_sorting(root: Path) -> None:
    (root / "b.txt").write_bytes(b"12345")
    (root / "a.txt").write_bytes(b"1")
    (root / "z").mkdir()
    (root / "link").symlink_to("a.txt")
    (root / "away").symlink_to("/etc")
    os.mkfifo(root / "pipe")
    os.utime(root / "b.txt", ns=(0, 4 * 10**18))  # 2096

    def names(key: files.SortKey, descending: bool = False) -> list[str]:
        return [
            e.name for e in files.list_entries(root, ".", sort_by=key, descending=descending)[1]
        ]

    assert names("name") == ["a.txt", "b.txt", "link", "z"]  # the FIFO and /etc link hidden
    assert names("name", True) == ["z", "link", "b.txt", "a.txt"]
    assert names("type") == ["z", "a.txt", "b.txt", "link"]
    assert names("sizeBytes", True) == ["b.txt", "a.txt", "link", "z"]
    assert names("updatedAt", True)[0] == "b.txt"


def test_mkdir_delete_move(root: Path) -> None:
    made = writes.make_directory(root, "x/y", create_parents=True)
    assert made.is_dir and writes.make_directory(root, "x/y", create_parents=False).is_dir
    assert error(writes.make_directory, root, "q/r", create_parents=False)[0] == (
        "workspace_entry_not_found"
    )
    writes.write_file(root, "x/y/f", b"1", overwrite=True, if_match=None)
    assert error(writes.make_directory, root, "x/y/f", create_parents=True)[1] == 409
    assert error(writes.delete_entry, root, "x", recursive=False)[0] == (
        "workspace_directory_not_empty"
    )
    assert error(writes.delete_entry, root, "/workspace", recursive=True)[0] == (
        "invalid_sandbox_path"
    )
    writes.write_file(root, "g", b"2", overwrite=True, if_match=None)
    assert error(writes.move_entry, root, "g", "x/y/f", overwrite=False)[0] == (
        "workspace_entry_exists"
    )
    assert error(writes.move_entry, root, "x", "x/y/inside", overwrite=False)[1] == 409
    moved = writes.move_entry(root, "g", "x/y/f", overwrite=True)
    assert moved.path == "/workspace/x/y/f" and (root / "x/y/f").read_bytes() == b"2"
    assert writes.move_entry(root, "x", "new/place/x", overwrite=False).is_dir
    assert writes.delete_entry(root, "new", recursive=True).is_dir
    assert sorted(p.name for p in root.iterdir()) == []


def test_deleting_a_link_keeps_its_target(root: Path) -> None:
    (root / "t.txt").write_text("t")
    (root / "l").symlink_to("t.txt")
    assert not writes.delete_entry(root, "l", recursive=False).is_dir
    assert (root / "t.txt").read_text() == "t" and not (root / "l").is_symlink()


def test_many_concurrent_if_match_writers_never_lose_an_update(root: Path) -> None:
    """Each round, N threads read the etag and write their own content with ifMatch: exactly
    one wins per round and the file holds exactly the winner's bytes."""
    writers = 16
    writes.write_file(root, "c.txt", b"start", overwrite=True, if_match=None)
    for _ in range(5):
        etag = files.stat_entry(root, "c.txt").etag

        def write(i: int, etag: str | None = etag) -> tuple[str, bytes]:
            content = f"writer {i} ".encode() * (1000 + i)
            try:
                writes.write_file(root, "c.txt", content, overwrite=True, if_match=etag)
            except CorralError as exc:
                return exc.code, content
            return "ok", content

        results = all_at_once(writers, write)
        won = [content for outcome, content in results if outcome == "ok"]
        assert sorted(outcome for outcome, _ in results) == ["ok"] + [
            "workspace_precondition_failed"
        ] * (writers - 1)
        assert (root / "c.txt").read_bytes() == won[0]
