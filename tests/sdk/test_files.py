"""The workspace sandbox through the sync SDK: files read and written whole, large files
streamed both ways (from and to paths, file objects and chunk iterators), commands."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral_client.models import EntryType
from corral_sdk import Corral, FileNotFound, Sandbox

BIG = 3 * 1024 * 1024 + 17  # several chunks each way


@pytest.fixture
def sandbox(corral: Corral) -> Sandbox:
    return corral.workspaces.create(name="files").sandbox


class CountingSink(io.BytesIO):
    """A download target that counts the writes it receives."""

    writes = 0

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes += 1
        return super().write(data)


def test_text_and_bytes_are_written_and_read_whole(sandbox: Sandbox) -> None:
    entry = sandbox.write("docs/hello.txt", "héllo\n")
    assert entry.path.endswith("docs/hello.txt") and entry.type_ is EntryType.FILE
    assert sandbox.read("/workspace/docs/hello.txt") == "héllo\n"
    assert sandbox.read("docs/hello.txt", max_bytes=2) == "h"
    binary = bytes(range(256))
    sandbox.write("blob.bin", binary)
    assert sandbox.read_bytes("blob.bin") == binary
    assert sandbox.stat("blob.bin").size == 256


def test_directories_listed_moved_and_deleted(sandbox: Sandbox) -> None:
    sandbox.mkdir("a/b")
    sandbox.write("a/b/one.txt", "1")
    sandbox.write("a/two.txt", "2")
    assert [(e.name, e.type_.value) for e in sandbox.list("a", page_size=1)] == [
        ("b", "directory"),
        ("two.txt", "file"),
    ]
    sandbox.move("a/two.txt", "a/b/two.txt")
    assert sorted(e.name for e in sandbox.list("a/b")) == ["one.txt", "two.txt"]
    assert sandbox.delete("a", recursive=True).deleted
    with pytest.raises(FileNotFound):
        sandbox.stat("a")


def test_a_large_file_uploaded_from_a_path_downloads_to_a_path(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(BIG))
    entry = sandbox.upload("data/big.bin", source)
    assert entry.size_bytes == BIG
    target = tmp_path / "copy.bin"
    assert sandbox.download("data/big.bin", target) == BIG
    assert _digest(target.read_bytes()) == _digest(source.read_bytes())


def test_uploads_from_chunk_iterators_and_file_objects_stream(sandbox: Sandbox) -> None:
    chunks = [os.urandom(256 * 1024) for _ in range(5)]
    pulled: list[int] = []

    def produce() -> Iterator[bytes]:
        for i, chunk in enumerate(chunks):
            pulled.append(i)
            yield chunk

    sandbox.upload("chunks.bin", produce())  # no length known: sent chunked
    assert pulled == [0, 1, 2, 3, 4]
    sink = CountingSink()
    assert sandbox.download("chunks.bin", sink) == sum(len(c) for c in chunks)
    assert sink.getvalue() == b"".join(chunks)
    assert sink.writes > 1  # written as it arrived, not in one piece

    sandbox.upload("object.bin", io.BytesIO(b"from a file object"), overwrite=True)
    assert sandbox.read("object.bin") == "from a file object"


def test_commands_and_processes_run_in_the_workspace(sandbox: Sandbox) -> None:
    sandbox.write("here.txt", "x")
    shell = sandbox.run("ls; echo $GREETING; cat; exit 3", env={"GREETING": "hi"}, stdin="in")
    assert "here.txt" in shell.stdout and "hi\nin" in shell.stdout and shell.exit_code == 3
    sandbox.mkdir("sub")
    process = sandbox.exec("pwd", cwd="sub", timeout=30)
    assert process.stdout.strip().endswith("/sub") and process.exit_code == 0


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
