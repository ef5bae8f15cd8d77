"""What each isolation mode gives: under bwrap the workspace is the only writable place, the
network and the server's private paths are out of reach and no capability is left; `none` is
a plain process that sees what the server's user sees."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from commands_support import Box, new_box, serving

from corral.sandbox.isolation import Isolation, choose_isolation
from corral_client import Client

CONNECT = "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 2)"


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


@pytest.fixture
def var_tmp_probe() -> Iterator[Path]:
    """A path outside /tmp (which bwrap replaces) that the server's user could write."""
    path = Path("/var/tmp") / f"corral-probe-{uuid.uuid4().hex}"
    yield path
    path.unlink(missing_ok=True)


def test_bwrap_allows_writes_only_in_the_workspace(bwrap_box: Box, var_tmp_probe: Path) -> None:
    box = bwrap_box
    sibling = box.root.parent / f"sibling-{uuid.uuid4().hex}"
    in_tmp = Path("/tmp") / f"corral-probe-{uuid.uuid4().hex}"
    assert box.sh("touch inside").exit_code == 0 and (box.root / "inside").exists()
    assert box.sh(f"touch {var_tmp_probe}").exit_code != 0
    assert box.sh("touch /etc/corral-probe").exit_code != 0
    # /tmp is private: writes there succeed but never reach the host.
    assert box.sh(f"touch {in_tmp} {sibling}").exit_code == 0
    assert not var_tmp_probe.exists() and not in_tmp.exists() and not sibling.exists()
    assert not Path("/etc/corral-probe").exists()


def test_bwrap_has_no_network(bwrap_box: Box, listener: int) -> None:
    result = bwrap_box.process("python3", "-c", CONNECT, str(listener))
    assert result.exit_code != 0 and "refused" in result.stderr.lower()


@pytest.mark.usefixtures("working_bwrap")
def test_bwrap_network_can_be_allowed(tmp_path: Path, listener: int) -> None:
    with (
        serving(tmp_path, sandbox_isolation="bwrap", sandbox_network=True) as served,
        httpx.Client(base_url=served.url, timeout=30) as http,
        Client(base_url=served.url) as client,
    ):
        box = new_box(served, http, client)
        assert box.process("python3", "-c", CONNECT, str(listener)).exit_code == 0


def test_bwrap_masks_the_servers_private_paths(bwrap_box: Box, hidden_dir: Path) -> None:
    box = bwrap_box
    assert box.sh(f"cat {hidden_dir}/secret.txt").exit_code != 0
    assert box.sh(f"ls {box.data_dir}/corral.db").exit_code != 0
    home = Path.home()
    if home != Path("/") and not box.root.is_relative_to(home):
        assert box.sh(f"ls -A {home}").stdout == ""
    # Without capabilities the masks cannot be lifted.
    lifted = box.sh(f"umount {hidden_dir}; cat {hidden_dir}/secret.txt")
    assert "top secret" not in lifted.stdout
    assert box.sh("grep CapEff /proc/self/status").stdout.split() == ["CapEff:", "0" * 16]


def test_bwrap_hides_the_hosts_processes(bwrap_box: Box) -> None:
    listing = bwrap_box.sh("ps -e -o comm= 2>/dev/null || ls /proc").stdout
    assert "python" not in listing and "pytest" not in listing
    assert int(bwrap_box.sh("ls /proc | grep -c '^[0-9]'").stdout) < 10


def test_none_mode_is_a_plain_process(
    none_box: Box, hidden_dir: Path, var_tmp_probe: Path, listener: int
) -> None:
    """What `none` does not give, shown rather than only documented."""
    box = none_box
    assert box.sh(f"cat {hidden_dir}/secret.txt").stdout == "top secret"
    assert box.sh(f"touch {var_tmp_probe}").exit_code == 0 and var_tmp_probe.exists()
    assert box.process("python3", "-c", CONNECT, str(listener)).exit_code == 0


async def test_auto_falls_back_to_none_without_bwrap(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on this PATH
    chosen = await choose_isolation("auto", network=False, hidden=[], probe_root=tmp_path)
    assert chosen.mode == "none"
    with pytest.raises(RuntimeError, match="bwrap is not installed"):
        await choose_isolation("bwrap", network=False, hidden=[], probe_root=tmp_path)


def _options(isolation: Isolation, root: Path) -> list[str]:
    launch = isolation.launch(["true"], root=root, cwd=root, env={"SECRET": "value"})
    try:
        assert "value" not in launch.argv  # the variables travel in the memfd, not argv
        return os.pread(launch.pass_fds[0], 1 << 20, 0).decode().split("\0")[:-1]
    finally:
        launch.close()


def test_masks_above_the_workspace_come_before_its_bind(tmp_path: Path) -> None:
    root = tmp_path / "data" / "workspaces" / "w"
    (root / ".cache").mkdir(parents=True)
    (tmp_path / "config.yaml").write_text("tokens")
    hidden = (tmp_path / "data", root / ".cache", tmp_path / "config.yaml", tmp_path / "absent")
    options = _options(Isolation("bwrap", hidden=hidden), root)
    bind = options.index("--bind")
    assert options[bind : bind + 3] == ["--bind", str(root), str(root)]
    assert options.index(str(tmp_path / "data")) < bind < options.index(str(root / ".cache"))
    masked_file = options.index(str(tmp_path / "config.yaml"))
    assert options[masked_file - 2 : masked_file] == ["--ro-bind", "/dev/null"]
    assert str(tmp_path / "absent") not in options
    assert "--unshare-net" not in options and "--share-net" not in options  # unshare-all
    assert {"--unshare-all", "--cap-drop", "--die-with-parent", "--disable-userns"} <= set(options)
    assert options[options.index("--setenv") + 1 : options.index("--setenv") + 3] == [
        "SECRET",
        "value",
    ]
