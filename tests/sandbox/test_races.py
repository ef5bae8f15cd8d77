"""Races and broken transfers: a directory swapped for a symlink while requests run, many
writers with `ifMatch`, an upload cut off mid-stream, and the upload size limit."""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from corral.testing.waiting import wait_for

from .conftest import ADMIN_TOKEN, Box, Served, all_at_once, auth

RENAME_EXCHANGE = 2
libc = ctypes.CDLL(None, use_errno=True)


def exchange(a: Path, b: Path) -> None:
    """Swap two names atomically (renameat2 RENAME_EXCHANGE)."""
    if libc.renameat2(-100, bytes(a), -100, bytes(b), RENAME_EXCHANGE):  # -100: AT_FDCWD
        raise OSError(ctypes.get_errno(), "renameat2")


def test_a_directory_swapped_for_a_symlink_never_leads_outside(
    box: Box, served: Served, outside: Path
) -> None:
    flip, spare = box.root / "flip", box.root / "spare"
    flip.mkdir()
    (flip / "f.txt").write_text("inside")
    spare.symlink_to(outside)  # `outside` holds secret.txt: the same name under another dir
    (outside / "f.txt").write_text("top secret")
    stop = threading.Event()
    seen: list[tuple[str, int, bytes]] = []

    def flipper() -> None:
        while not stop.is_set():
            exchange(flip, spare)

    def client(kind: str) -> None:
        with httpx.Client(base_url=served.url, headers=auth(ADMIN_TOKEN), timeout=30) as api:
            peer = Box(box.id, box.root, api)
            while not stop.is_set():
                if kind == "read":
                    resp = peer.get("files/content", path="flip/f.txt")
                elif kind == "download":
                    resp = peer.get("files/download", path="flip/f.txt")
                elif kind == "write":
                    resp = peer.write("flip/f.txt", "written", overwrite=True)
                elif kind == "upload":
                    resp = peer.upload("flip/new.bin", b"uploaded")
                elif kind == "list":
                    resp = peer.get("files/entries", path="flip")
                else:
                    resp = api.delete(f"{peer.base}/files/entry", params={"path": "flip/new.bin"})
                seen.append((kind, resp.status_code, resp.content))

    (outside / "f.txt").chmod(0o644)
    before = {p.name: p.read_bytes() for p in outside.iterdir() if p.is_file()}
    kinds = ["read", "download", "write", "upload", "list", "delete"]
    threads = [threading.Thread(target=flipper)] + [
        threading.Thread(target=client, args=(k,)) for k in kinds
    ]
    for t in threads:
        t.start()

    def raced() -> bool:
        """Both outcomes of the swap met by readers and writers, every kind asked often."""
        answers = list(seen)
        by_status = {s: {k for k, status, _ in answers if status == s} for s in (200, 400)}
        asked = [k for k, _, _ in answers]
        both = by_status[200] & by_status[400]
        return {"read", "write"} <= both and all(asked.count(k) >= 20 for k in kinds)

    try:
        wait_for(raced, what="the requests to meet both sides of the swap")
    finally:
        stop.set()
    for t in threads:
        t.join()
    (outside / "f.txt").unlink()  # planted by this test; the fixture checks the rest
    assert {p.name: p.read_bytes() for p in outside.iterdir() if p.is_file()} == {
        k: v for k, v in before.items() if k != "f.txt"
    }
    assert before["f.txt"] == b"top secret"
    statuses = {(kind, status) for kind, status, _ in seen}
    assert all(status in (200, 400, 404, 409) for _, status in statuses), statuses
    assert not [s for s in seen if b"top secret" in s[2] or b"secret.txt" in s[2]]


def test_concurrent_if_match_writers_over_http(box: Box, served: Served) -> None:
    """Writers (JSON and upload, half each) all read one etag, then all write with it."""
    writers = 10
    box.write("shared.txt", "v0")
    for round_ in range(3):
        etag = box.get("files/content", path="shared.txt").json()["etag"]

        def write(i: int, etag: str = etag, round_: int = round_) -> tuple[int, bytes]:
            content = f"round {round_} writer {i}\n".encode() * (200 + i)
            with httpx.Client(base_url=served.url, headers=auth(ADMIN_TOKEN), timeout=30) as api:
                peer = Box(box.id, box.root, api)
                if i % 2:
                    return peer.upload("shared.txt", content, ifMatch=etag).status_code, content
                return peer.write("shared.txt", content.decode(), ifMatch=etag).status_code, content

        results = all_at_once(writers, write)
        winners = [content for status, content in results if status == 200]
        assert sorted(s for s, _ in results) == [200] + [412] * (writers - 1)
        assert (box.root / "shared.txt").read_bytes() == winners[0]


def raw_request(served: Served, head: str, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", urlsplit(served.url).port or 80))
    sock.sendall(head.encode() + b"\r\n\r\n" + body)
    return sock


def test_an_aborted_upload_leaves_the_old_file_and_no_temp_file(box: Box, served: Served) -> None:
    (box.root / "sub" / "keep.bin").write_bytes(b"old content")
    head = (
        f"PUT {box.base}/files/upload?path=sub/keep.bin HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\n"
        "Content-Type: application/octet-stream\r\nContent-Length: 50000000"
    )
    sub = box.root / "sub"
    sock = raw_request(served, head, b"n" * 3_000_000)
    (temp,) = wait_for(
        lambda: [p for p in sub.iterdir() if p.name != "keep.bin" and p.stat().st_size],
        what="the body to arrive in a temp file",
    )
    sock.close()  # the client goes away mid-body
    wait_for(lambda: not temp.exists(), what="the temp file to be removed")
    assert sorted(p.name for p in sub.iterdir()) == ["keep.bin"]
    assert (box.root / "sub" / "keep.bin").read_bytes() == b"old content"


def test_uploads_over_256_mib_are_refused_before_the_body(box: Box, served: Served) -> None:
    head = (
        f"PUT {box.base}/files/upload?path=huge.bin HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\nConnection: close\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {256 * 2**20 + 1}"
    )
    with raw_request(served, head) as sock:
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b'"payload_too_large"' in reply
    assert not (box.root / "huge.bin").exists()
    assert os.listdir(box.root).count("huge.bin") == 0


def test_an_upload_must_send_a_body(box: Box, served: Served) -> None:
    """Neither a length nor chunks, or a zero length, is no body (empty files are written
    with PUT files/content)."""
    head = (
        f"PUT {box.base}/files/upload?path=none.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}"
    )
    with raw_request(served, head) as sock:
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert box.upload("none.bin", b"").status_code == 400
    assert not (box.root / "none.bin").exists()
