"""Foreground and process commands through the live server, in both isolation modes: results,
exit codes, stdin, the timeout that ends a whole process group, the output cap, the scrubbed
environment, and requests that must be refused without running anything."""

from __future__ import annotations

import time
import uuid

import pytest
from commands_support import (
    OUTPUT_CAP,
    VISIBLE,
    Box,
    group_members,
    running_with,
)

from corral.testing.api_calls import assert_error
from corral.testing.waiting import wait_for
from corral_client.types import UNSET


def test_foreground_runs_through_the_shell(box: Box) -> None:
    result = box.sh("echo out; echo err >&2; exit 3")
    assert (result.stdout, result.stderr, result.exit_code) == ("out\n", "err\n", 3)
    assert result.timed_out is False and result.truncated is False


def test_foreground_runs_in_the_workspace(box: Box) -> None:
    (box.root / "sub").mkdir()
    assert box.sh("pwd").stdout == f"{box.root}\n"
    assert box.sh("pwd; echo $HOME", cwd="sub").stdout == f"{box.root}/sub\n{box.root}\n"
    assert box.sh("pwd", cwd="/workspace/sub").stdout == f"{box.root}/sub\n"
    assert box.sh("echo made > made.txt").exit_code == 0
    assert (box.root / "made.txt").read_text() == "made\n"


def test_process_runs_argv_without_a_shell(box: Box) -> None:
    result = box.process("printf", "%s|", "a b", "$HOME", "*", "; rm -rf x")
    assert result.stdout == "a b|$HOME|*|; rm -rf x|"
    assert result.exit_code == 0


def test_exit_codes_follow_the_shell(box: Box) -> None:
    missing = box.process("no-such-program-here")
    assert missing.exit_code == 127 and "not found" in missing.stderr
    (box.root / "plain.txt").write_text("not a program")
    assert box.process("./plain.txt").exit_code == 126
    assert box.sh("kill -KILL $$").exit_code == 128 + 9


def test_stdin_is_fed_and_closed(box: Box) -> None:
    assert box.process("cat", stdin_text="hello\nworld").stdout == "hello\nworld"
    assert box.sh("wc -l", stdin_text="a\nb\nc\n").stdout.strip() == "3"
    # No stdinText: stdin is /dev/null, so a reader ends at once instead of hanging.
    assert box.process("cat").stdout == ""


def test_large_stdin_unread_by_the_command_does_not_hang(box: Box) -> None:
    started = time.monotonic()
    result = box.sh("exit 0", stdin_text="x" * 900_000)  # far beyond a pipe buffer
    assert result.exit_code == 0 and time.monotonic() - started < 3


def test_timeout_kills_the_whole_group(none_box: Box) -> None:
    marker = f"9{uuid.uuid4().int % 10**6:06d}"
    started = time.monotonic()
    result = none_box.sh(f"echo $$ > pgid; (sleep {marker} &); sleep {marker}", timeout_ms=300)
    assert result.timed_out is True and result.exit_code == 124
    assert time.monotonic() - started < 3
    pgid = int((none_box.root / "pgid").read_text())
    # The grandchild that left its parent is gone too: no process of the group runs.
    wait_for(lambda: not group_members(pgid))
    assert not running_with(f"sleep {marker}")


def test_timeout_kills_everything_inside_bwrap(bwrap_box: Box) -> None:
    marker = f"8{uuid.uuid4().int % 10**6:06d}"
    result = bwrap_box.sh(
        f"(sleep {marker} &); setsid sleep {marker} & sleep {marker}", timeout_ms=300
    )
    assert result.timed_out is True and result.exit_code == 124
    # Even a process that left the group (setsid) dies with bwrap's pid namespace.
    wait_for(lambda: not running_with(f"sleep {marker}"))


def test_leftovers_of_a_finished_command_are_ended(box: Box) -> None:
    marker = f"7{uuid.uuid4().int % 10**6:06d}"
    started = time.monotonic()
    result = box.sh(f"sleep {marker} & echo started")
    assert result.stdout == "started\n" and result.timed_out is False
    assert time.monotonic() - started < 3  # the sleeper holding stdout does not delay it
    wait_for(lambda: not running_with(f"sleep {marker}"))


def test_timeout_is_capped_by_the_configured_maximum(box: Box) -> None:
    started = time.monotonic()
    result = box.sh("sleep 30", timeout_ms=10**12)
    assert result.timed_out is True
    assert 1.4 < time.monotonic() - started < 4  # sandbox_max_timeout_ms is 1.5 s here


def test_output_is_capped_and_the_command_never_blocks(box: Box) -> None:
    started = time.monotonic()
    # 20 MB on each stream: far more than the pipes hold; the command must still finish.
    result = box.sh("head -c 20000000 /dev/zero | tr '\\0' a; head -c 20000000 /dev/zero >&2")
    assert time.monotonic() - started < 5
    assert result.exit_code == 0 and result.timed_out is False
    assert result.truncated is True
    assert result.stdout == "a" * OUTPUT_CAP
    assert len(result.stderr) == OUTPUT_CAP


def test_output_below_the_cap_is_not_truncated(box: Box) -> None:
    result = box.sh(f"head -c {OUTPUT_CAP} /dev/zero | tr '\\0' b")
    assert result.truncated is False and len(result.stdout) == OUTPUT_CAP


def test_environment_is_scrubbed(box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "OPENAI_API_KEY": "sk-openai-secret",
        "ANTHROPIC_API_KEY": "sk-ant-secret",
        "CORRAL_API_TOKENS": "server-token-secret",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(VISIBLE, "let through by configuration")
    request_env = {"GREETING": "hi there", "LD_PRELOAD": ""}
    result = box.sh("env", env=request_env)
    raw = box.sh("cat /proc/self/environ", env=request_env).stdout
    for name, value in secrets.items():
        assert name not in result.stdout and value not in result.stdout
        assert name not in raw and value not in raw
    variables = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert variables["GREETING"] == "hi there"
    assert variables[VISIBLE] == "let through by configuration"
    assert variables["HOME"] == str(box.root)
    assert set(variables) <= {
        "PATH",
        "HOME",
        "LANG",
        "TERM",
        "TMPDIR",
        "SHELL",
        "PWD",
        "SHLVL",
        "_",
        "GREETING",
        "LD_PRELOAD",
        VISIBLE,
    }


def test_request_env_may_override_the_base(box: Box) -> None:
    assert box.sh("echo $LANG", env={"LANG": "en_US.UTF-8"}).stdout == "en_US.UTF-8\n"


MALFORMED_ENV = [{"A=B": "x"}, {"1ABC": "x"}, {"": "x"}, {"BAD NAME": "x"}, {"OK": "nul\0byte"}]


def test_malformed_environment_is_refused(box: Box) -> None:
    for env in MALFORMED_ENV:
        assert_error(
            box.post("foreground", {"command": "true", "env": env}), 400, "invalid_request"
        )


ESCAPING_CWDS = ["..", "../..", "/etc", "/", "/workspace/../..", "/workspace/..", "sub/../../x"]
MISSING_CWDS = ["missing", "/workspace/missing/deeper"]


def test_cwd_outside_or_missing_is_a_400(box: Box) -> None:
    for cwd in ESCAPING_CWDS + MISSING_CWDS:
        for route, body in (
            ("foreground", {"command": "touch escaped"}),
            ("process", {"executable": "touch", "args": ["escaped"]}),
        ):
            assert_error(box.post(route, {**body, "cwd": cwd}), 400, "invalid_sandbox_path")
    assert not (box.root.parent / "escaped").exists()
    assert not list(box.root.rglob("escaped"))


def test_cwd_through_a_symlink_leading_outside_is_a_400(box: Box) -> None:
    (box.root / "out").symlink_to("/etc")
    assert_error(
        box.post("foreground", {"command": "pwd", "cwd": "out"}), 400, "invalid_sandbox_path"
    )


def test_cwd_that_is_a_file_is_a_400(box: Box) -> None:
    (box.root / "file.txt").write_text("x")
    resp = box.post("process", {"executable": "pwd", "cwd": "file.txt"})
    assert_error(resp, 400, "invalid_sandbox_path")


UNRECEIVABLE = [
    {"command": "echo a\u0000b"},
    {"command": "echo \ud800"},
    {"command": "x" * 200_000},
    {"command": "cat", "stdinText": "\udfff"},
]


def test_text_no_process_could_receive_is_a_400(box: Box) -> None:
    for body in UNRECEIVABLE:
        assert_error(box.post("foreground", body), 400, "invalid_request")


def test_process_arguments_with_nul_are_a_400(box: Box) -> None:
    resp = box.post("process", {"executable": "echo", "args": ["ok", "a\u0000b"]})
    assert assert_error(resp, 400, "invalid_request")["details"] == {"field": "args.1"}


def test_unknown_sandbox_is_a_404(box: Box) -> None:
    missing = box.http.post(
        "/api/v1/sandboxes/ws_00000000000000000000000000000000/commands/process",
        json={"executable": "true"},
    )
    assert_error(missing, 404, "workspace_not_found")


def test_read_only_workspace_refuses_commands(read_only_box: Box) -> None:
    box = read_only_box
    before = sorted(box.root.rglob("*"))
    for route, body in (
        ("foreground", {"command": "touch nope"}),
        ("process", {"executable": "touch", "args": ["nope"]}),
        ("background", {"command": "touch nope"}),
        ("background", {"command": "touch nope", "sessionId": box.session_id}),
    ):
        assert_error(box.post(route, body), 403, "workspace_read_only")
    assert sorted(box.root.rglob("*")) == before  # not even a background command's log


def test_generated_client_round_trip(box: Box) -> None:
    result = box.sh("printf '%s' \"$X\"", env={"X": "from the client"}, timeout_ms=2000)
    assert result.stdout == "from the client"
    assert result.truncated is False and result.timed_out is False
    assert box.process("true").timed_out is not UNSET
