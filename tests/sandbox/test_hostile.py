"""A corpus of hostile paths against every file route: each gets 400 `invalid_sandbox_path`
(403 `workspace_read_only` for writes to a read-only workspace), and nothing changes, neither
outside the root (the `outside` fixture checks its snapshot) nor inside it."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import Box, Served, new_box, read_only_box, snapshot

Route = Callable[[Box, str], httpx.Response]

ROUTES: dict[str, Route] = {
    "entries": lambda b, p: b.get("files/entries", path=p),
    "stat": lambda b, p: b.get("files/stat", path=p),
    "read": lambda b, p: b.get("files/content", path=p),
    "download": lambda b, p: b.get("files/download", path=p),
    "write": lambda b, p: b.write(p, "pwned"),
    "upload": lambda b, p: b.upload(p, b"pwned"),
    "mkdir": lambda b, p: b.api.post(f"{b.base}/directories", json={"path": p}),
    "delete": lambda b, p: b.api.delete(
        f"{b.base}/files/entry", params={"path": p, "recursive": "true"}
    ),
    "move_from": lambda b, p: b.api.patch(
        f"{b.base}/files/move", json={"sourcePath": p, "targetPath": "moved"}
    ),
    "move_to": lambda b, p: b.api.patch(
        f"{b.base}/files/move", json={"sourcePath": "real.txt", "targetPath": p, "overwrite": True}
    ),
}
WRITES = {"write", "upload", "mkdir", "delete", "move_from", "move_to"}


def corpus(outside: Path, root: Path) -> list[str]:
    far = str(outside)
    rel = os.path.relpath(outside, root)
    traversal = [
        "..",
        "../",
        "../secret.txt",
        "../../etc/passwd",
        "../" * 12 + "etc/passwd",
        "./..",
        "./../x",
        "sub/../..",
        "sub/../../x",
        "sub/./../../x",
        "a/b/../../../x",
        "..//..//x",
        ".././.././x",
        "/workspace/..",
        "/workspace/../",
        "/workspace/../etc/passwd",
        "/workspace/./../x",
        "//workspace/../../x",
        "/workspace//..//x",
        "/workspace/sub/../..",
        "/./workspace/..",
        "sub/..//../x",
        "real.txt/../..",
        "new/../../x",
        "../workspace/x",
        rel,
        f"{rel}/secret.txt",
        f"sub/{rel}/sub",
    ]
    absolute = [
        "/",
        "/etc",
        "/etc/passwd",
        "/etc/shadow",
        "/tmp",
        "/tmp/x",
        "/root/.ssh/id_rsa",
        "/workspacex",
        "/workspace-other/x",
        "/workspace.bak",
        "/Workspace/x",
        "/WORKSPACE",
        "/work",
        "/proc/self/environ",
        "/proc/self/root/etc/passwd",
        "/dev/null",
        "/dev/zero",
        "/sys/kernel",
        far,
        f"{far}/secret.txt",
        f"{root}",
        f"{root}/real.txt",
        "//etc/passwd",
        "///",
        "/./etc",
    ]
    bytes_and_chars = [
        "a\x00b",
        "\x00",
        "/workspace/\x00",
        "real.txt\x00.png",
        "../\x00",
        "sub/\x00/x",
        "a\nb",
        "a\rb",
        "\x1b[31mred",
        "a\tb",
        "\x7f",
        "x\x08y",
        "new\u2028line",
        "p\u2029q",
        "evil\u202etxt.exe",
        "a\u2066b",
        "\u200fx",
        "a" * 256,
        "é" * 128,
        "sub/" + "b" * 300,
        "/workspace/" + "c" * 256,
        "/".join(["é" * 100] * 21),  # 4,221 bytes, 2,121 characters
    ]
    spellings = [
        "..\\..\\etc\\passwd",
        "..\\x",
        "a\\b",
        "\\workspace\\x",
        "sub\\..\\..\\x",
        "\\\\server\\s",
        "\uff0e\uff0e/x",
        "\uff0e\uff0e",
        "\uff0e\uff0e\uff0fetc",
        "a\uff0fb",
        "x/\u2024\u2024/y",
        "\ufe52\ufe52/x",
        "sub/\uff0e\uff0e/\uff0e\uff0e/x",
        "\u2024\u2024",
    ]
    links = [
        "esc",
        "esc/",
        "esc/secret.txt",
        "esc/sub",
        "esc/new.txt",
        "esc/sub/new",
        "esc/../..",
        "after_link",
        "after_link/x",
        "hop",
        "hop/x",
        "esc_rel",
        "esc_rel/secret.txt",
        "esc_file",
        "sub/deep_esc",
        "sub/deep_esc/secret.txt",
        "sub/deep_esc/new.txt",
        "/workspace/esc/secret.txt",
        "./esc/secret.txt",
        "sub/../esc/secret.txt",
        "inner/up",
        "inner/up/x",
        "inner/../esc/secret.txt",
        "abs_etc",
        "abs_etc/passwd",
        "proc_root",
        "proc_root/etc/passwd",
        "loop1",
        "loop1/x",
        "self_loop",
        "chain1",
        "chain1/secret.txt",
        "esc_root",
        "esc_root/etc/passwd",
        "devnull",
        "devzero",
        "sub/dev_tty",
    ]
    special = ["fifo", "fifo/x", "sub/fifo2", "sock", "/workspace/fifo", "sub/../fifo"]
    return traversal + absolute + bytes_and_chars + spellings + links + special


def plant(root: Path, outside: Path) -> None:
    """Symlinks leading outside at every position, loops, device links, a FIFO and a socket."""
    (root / "esc").symlink_to(outside)
    (root / "esc_rel").symlink_to(os.path.relpath(outside, root))
    (root / "esc_file").symlink_to(outside / "secret.txt")
    (root / "sub" / "deep_esc").symlink_to(outside)
    (root / "inner").mkdir()
    (root / "inner" / "up").symlink_to("../..")
    (root / "after_link").symlink_to("sub/deep_esc/..")  # `..` after a link, inside a target
    (root / "hop").symlink_to("inner/up/..")
    (root / "abs_etc").symlink_to("/etc")
    (root / "proc_root").symlink_to("/proc/self/root")
    (root / "esc_root").symlink_to("/")
    (root / "loop1").symlink_to("loop2")
    (root / "loop2").symlink_to("loop1")
    (root / "self_loop").symlink_to("self_loop")
    (root / "chain1").symlink_to("chain2")
    (root / "chain2").symlink_to("sub/deep_esc")
    (root / "devnull").symlink_to("/dev/null")
    (root / "devzero").symlink_to("/dev/zero")
    (root / "sub" / "dev_tty").symlink_to("/dev/tty")
    os.mkfifo(root / "fifo")
    os.mkfifo(root / "sub" / "fifo2")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock"))
    sock.close()


@pytest.fixture
def hostile_box(api: httpx.Client, outside: Path) -> Iterator[tuple[Box, list[str]]]:
    box = new_box(api, "hostile")
    plant(box.root, outside)
    paths = corpus(outside, box.root)
    assert len(paths) >= 100 and len(set(paths)) == len(paths)
    before = snapshot(box.root)
    yield box, paths
    assert snapshot(box.root) == before, "a hostile request changed the workspace"


@pytest.mark.parametrize("route", ROUTES)
def test_hostile_paths_are_refused(hostile_box: tuple[Box, list[str]], route: str) -> None:
    box, paths = hostile_box
    wrong = []
    for path in paths:
        resp = ROUTES[route](box, path)
        code = resp.json().get("error", {}).get("code") if resp.status_code >= 400 else None
        if (resp.status_code, code) != (400, "invalid_sandbox_path"):
            wrong.append((path, resp.status_code, resp.text[:120]))
    assert wrong == []


def test_read_only_workspace_refuses_writes_first(
    api: httpx.Client, served: Served, outside: Path
) -> None:
    box = read_only_box(api, served, "hostile-ro")
    plant(box.root, outside)
    before = snapshot(box.root)
    for path in corpus(outside, box.root)[::4]:  # the read-only check comes before any path
        for route in WRITES:
            resp = ROUTES[route](box, path)
            assert resp.status_code == 403, (route, path, resp.text)
            assert resp.json()["error"]["code"] == "workspace_read_only"
    assert snapshot(box.root) == before


def test_surrogates_and_over_long_paths(box: Box) -> None:
    """Lone surrogates can only arrive through JSON; paths over 4,096 characters are refused
    by the contract's own limit before they reach the resolver."""
    resp = box.api.put(
        f"{box.base}/files/content",
        content=b'{"path": "\\ud800", "content": ""}',
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == 400, resp.text
    resp = box.get("files/stat", path="a/" * 2049)
    assert resp.status_code == 400
