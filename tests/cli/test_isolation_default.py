"""`sandbox_isolation: auto` is safe by default: a server whose callers are limited to some
workspaces, or that listens beyond loopback, refuses to start when commands cannot be
confined; only an explicit `none` runs them unconfined, and says so at every start.

"Cannot be confined" is made real whatever this machine has: a `bwrap` that fails comes first
on the server's PATH, so the server's own probe finds it broken."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corral.testing.processes import running
from corral.testing.waiting import DEADLINE_S
from tests.cli.processes import environment

LIMITED = '[{"token": "limited-token-0001", "workspaces": ["ws_0123"]}]'


@pytest.fixture
def broken_bwrap(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "bwrap"
    fake.write_text("#!/bin/sh\necho 'no user namespaces here' >&2\nexit 1\n")
    fake.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def _serve(tmp_path: Path, path: str, *args: str, **settings: str) -> tuple[int | None, str]:
    """Start `corral serve`; the exit code once it stops by itself (None when it served)."""
    env = environment(CORRAL_DATA_DIR=str(tmp_path / "data"), PATH=path, **settings)
    with running("serve", "--port", "0", *args, env=env) as server:
        try:
            server.expect("Application startup complete")
        except AssertionError:  # it exited: all it printed has been read
            return server.popen.wait(DEADLINE_S), server.output
        return None, server.output


@pytest.mark.parametrize(
    ("args", "settings", "exposure"),
    [
        ((), {"CORRAL_API_TOKENS": LIMITED}, "API tokens limit callers to some workspaces"),
        (("--host", "0.0.0.0"), {}, "the server listens on 0.0.0.0"),
    ],
)
def test_auto_refuses_to_start_exposed_without_a_working_bwrap(
    tmp_path: Path,
    broken_bwrap: str,
    args: tuple[str, ...],
    settings: dict[str, str],
    exposure: str,
) -> None:
    code, output = _serve(tmp_path, broken_bwrap, *args, **settings)
    assert code not in (None, 0)
    assert exposure in output
    assert "no user namespaces here" in output  # what the probe found
    assert "install bubblewrap" in output and "sandbox_isolation: none" in output


def test_an_explicit_none_starts_and_warns(tmp_path: Path, broken_bwrap: str) -> None:
    code, output = _serve(
        tmp_path, broken_bwrap, CORRAL_API_TOKENS=LIMITED, CORRAL_SANDBOX_ISOLATION="none"
    )
    assert code is None
    assert "sandbox_isolation is none: commands run as plain processes" in output


def test_auto_on_loopback_for_one_tenant_starts_unconfined_and_warns(
    tmp_path: Path, broken_bwrap: str
) -> None:
    code, output = _serve(tmp_path, broken_bwrap, CORRAL_API_TOKENS="full-token-0001")
    assert code is None
    assert "sandbox commands run without isolation" in output
