"""Downloads: byte ranges (206/416), revalidation (304), and the generated client end to end."""

from __future__ import annotations

import io

import httpx
import pytest

from corral.core.services.downloads import byte_range
from corral.errors import CorralError
from corral_client import AuthenticatedClient
from corral_client.api.files import (
    create_sandbox_directory,
    delete_sandbox_entry,
    download_sandbox_file,
    list_sandbox_entries,
    move_sandbox_entry,
    read_sandbox_file,
    stat_sandbox_file,
    upload_sandbox_file,
    write_sandbox_file,
)
from corral_client.api.sandboxes import create_sandbox, get_sandbox
from corral_client.models import (
    CreateDirectoryRequest,
    CreateSandboxRequest,
    ErrorResponse,
    MoveEntryRequest,
    Sandbox,
    SandboxFileStat,
    WorkspaceDeleteResult,
    WorkspaceEntry,
    WorkspaceEntryPage,
    WorkspaceFileContent,
    WriteFileRequest,
)
from corral_client.types import File

from .conftest import ADMIN_TOKEN, Box, Served

DATA = bytes(range(256)) * 40  # 10,240 bytes


@pytest.mark.parametrize(
    ("header", "span"),
    [
        (None, None),
        ("bytes=0-0", (0, 1)),
        ("bytes=10-", (10, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=90-500", (90, 100)),
        ("bytes=-500", (0, 100)),
        ("bytes=5-2", None),
        ("bytes=1-2,4-5", None),
        ("items=1-2", None),
        ("bytes=-", None),
        ("garbage", None),
    ],
)
def test_byte_range(header: str | None, span: tuple[int, int] | None) -> None:
    assert byte_range(header, 100) == span


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(CorralError) as caught:
        byte_range(header, 100)
    assert caught.value.status == 416


def test_ranges_and_revalidation(box: Box) -> None:
    etag = box.upload("d.bin", DATA).json()["etag"]
    url, params = f"{box.base}/files/download", {"path": "d.bin"}

    part = box.api.get(url, params=params, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == DATA[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(DATA)}"
    assert part.headers["content-length"] == "100" and part.headers["etag"] == etag
    tail = box.api.get(url, params=params, headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == DATA[-16:]
    several = box.api.get(url, params=params, headers={"Range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and several.content == DATA

    missed = box.api.get(url, params=params, headers={"Range": f"bytes={len(DATA)}-"})
    assert missed.status_code == 416 and missed.json()["error"]["code"] == "range_not_satisfiable"

    same = box.api.get(url, params=params, headers={"If-None-Match": etag})
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag)
    listed = box.api.get(url, params=params, headers={"If-None-Match": f'"x", {etag[2:]}'})
    assert listed.status_code == 304
    other = box.api.get(url, params=params, headers={"If-None-Match": 'W/"1-2-3"'})
    assert other.status_code == 200 and other.content == DATA

    empty = box.write("empty.txt", "")
    assert empty.status_code == 200
    got = box.get("files/download", path="empty.txt")
    assert (got.status_code, got.content, got.headers["content-length"]) == (200, b"", "0")


def test_every_route_through_the_generated_client(served: Served) -> None:
    with AuthenticatedClient(base_url=served.url, token=ADMIN_TOKEN) as client:
        made = create_sandbox.sync_detailed(
            client=client, body=CreateSandboxRequest(name="gen", runtime="default")
        )
        assert made.status_code == 201 and isinstance(made.parsed, Sandbox)
        sid = made.parsed.id
        assert isinstance(get_sandbox.sync(sid, client=client), Sandbox)

        entry = write_sandbox_file.sync(
            sid, client=client, body=WriteFileRequest(path="docs/a.md", content="# A")
        )
        assert isinstance(entry, WorkspaceEntry) and entry.path == "/workspace/docs/a.md"
        content = read_sandbox_file.sync(sid, client=client, path="docs/a.md")
        assert isinstance(content, WorkspaceFileContent) and content.content == "# A"
        stat = stat_sandbox_file.sync(sid, client=client, path="docs/a.md")
        assert isinstance(stat, SandboxFileStat) and stat.size == 3
        page = list_sandbox_entries.sync(sid, client=client, path="docs")
        assert isinstance(page, WorkspaceEntryPage) and [e.name for e in page.items] == ["a.md"]

        uploaded = upload_sandbox_file.sync(
            sid, client=client, path="bin/d.bin", body=File(payload=io.BytesIO(DATA))
        )
        assert isinstance(uploaded, WorkspaceEntry) and uploaded.size_bytes == len(DATA)
        down = download_sandbox_file.sync(sid, client=client, path="bin/d.bin")
        assert isinstance(down, File) and down.payload.read() == DATA
        part = download_sandbox_file.sync_detailed(
            sid, client=client, path="bin/d.bin", range_="bytes=0-9"
        )
        assert part.status_code == 206 and isinstance(part.parsed, File)

        directory = create_sandbox_directory.sync(
            sid, client=client, body=CreateDirectoryRequest(path="x/y")
        )
        assert isinstance(directory, WorkspaceEntry) and directory.type_.value == "directory"
        moved = move_sandbox_entry.sync(
            sid,
            client=client,
            body=MoveEntryRequest(source_path="bin/d.bin", target_path="x/y/d.bin"),
        )
        assert isinstance(moved, WorkspaceEntry) and moved.path == "/workspace/x/y/d.bin"
        deleted = delete_sandbox_entry.sync(sid, client=client, path="x", recursive=True)
        assert isinstance(deleted, WorkspaceDeleteResult) and deleted.deleted

        refused = stat_sandbox_file.sync(sid, client=client, path="../etc/passwd")
        assert isinstance(refused, ErrorResponse)
        assert refused.error.code == "invalid_sandbox_path"


def test_curl_style_plain_requests(box: Box, served: Served) -> None:
    """What a shell user does: a body from a file, then the bytes back, nothing else set."""
    with httpx.Client(base_url=served.url) as plain:
        up = plain.put(
            f"{box.base}/files/upload?path=c.txt",
            content=b"via curl",
            headers={
                "Authorization": f"Bearer {ADMIN_TOKEN}",
                "Content-Type": "application/octet-stream",
            },
        )
        assert up.status_code == 200
        down = plain.get(
            f"{box.base}/files/download?path=c.txt",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert down.content == b"via curl"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("latin1.txt", "café".encode("latin-1")),
        ("broken.json", b'{"a": '),
        ("obj.json", b'{"a": 1}'),
    ],
)
def test_a_download_is_the_files_bytes_whatever_its_name_says(
    box: Box, name: str, data: bytes
) -> None:
    """The media type comes from the name; the body is still the file, never checked as text
    or JSON (responses are validated in these tests, as in the fuzz run that found this)."""
    box.upload(name, data)
    got = box.get("files/download", path=name)
    assert (got.status_code, got.content) == (200, data)
