"""`corral chat`, `corral runs watch`, `corral sessions list` and `corral workspaces list`,
invoked in-process against a live server; chat reads its lines from scripted input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cli_support import WRITE_THEN_ANSWER, metadata
from typer.testing import CliRunner, Result

from corral.cli import app
from corral.config import ApiToken
from corral_sdk import Corral

Cli = Callable[..., Result]


def test_chat_streams_the_answer_and_shows_tool_calls(cli: Cli, corral: Corral) -> None:
    ws = corral.workspaces.create(name="cli")
    done = cli(
        "chat",
        "--workspace",
        ws.id,
        "--metadata",
        metadata(WRITE_THEN_ANSWER),
        input="write a note\n",
    )
    assert done.exit_code == 0, done.output
    out = done.output
    assert out.index("Writing it.") < out.index("⚙ Write") < out.index("✓ Write")
    assert out.index("✓ Write") < out.index("Wrote note.txt.") < out.index("[completed:")
    assert '"file_path": "note.txt"' in out and "1 tool calls" in out
    assert ws.sandbox.read("note.txt") == "hi"
    (session,) = ws.sessions.list()
    assert session.title == "chat" and session.id in out


def test_chat_continues_a_session_and_leaves_on_exit(cli: Cli, corral: Corral) -> None:
    session = corral.workspaces.create(name="cli").sessions.create(title="ongoing")
    done = cli("chat", "--session", session.id, input="first\n\nsecond\n/exit\nnever sent\n")
    assert done.exit_code == 0, done.output
    assert "You said: first" in done.output and "You said: second" in done.output
    assert [m.role.value for m in session.messages()] == ["user", "assistant"] * 2


def test_chat_without_a_target_uses_the_latest_workspace(cli: Cli, corral: Corral) -> None:
    done = cli("chat", input="hello\n")  # no workspace yet: one named "chat" is made
    assert done.exit_code == 0, done.output
    (created,) = corral.workspaces.list()
    assert created.name == "chat"
    latest = corral.workspaces.create(name="latest")
    assert cli("chat", input="hello again\n").exit_code == 0
    assert len(list(latest.sessions.list())) == 1


def test_chat_reports_a_failed_run_and_carries_on(cli: Cli, corral: Corral) -> None:
    ws = corral.workspaces.create(name="cli")
    failing = metadata([{"error": {"message": "the model is down", "retryable": False}}])
    done = cli("chat", "--workspace", ws.id, "--metadata", failing, input="one\ntwo\n")
    assert done.exit_code == 0, done.output
    assert done.output.count("run failed:") == 2 and "the model is down" in done.output


def test_chat_errors_end_the_command_cleanly(cli: Cli) -> None:
    unknown = cli("chat", "--session", "ses_" + "0" * 32)
    assert unknown.exit_code == 1 and "session_not_found" in unknown.output
    bad = cli("chat", "--metadata", "[1]")
    assert bad.exit_code == 2 and "must be a JSON object" in bad.output


def test_runs_watch_replays_a_run_and_exits_with_its_outcome(cli: Cli, corral: Corral) -> None:
    session = corral.workspaces.create(name="cli").sessions.create()
    completed = session.send("hi", metadata={"script": WRITE_THEN_ANSWER})
    watched = cli("runs", "watch", completed.run_id)
    assert watched.exit_code == 0, watched.output
    assert "✓ Write" in watched.output and "Wrote note.txt." in watched.output

    failing = [{"error": {"message": "no", "retryable": False}}]
    failed = session.send("again", metadata={"script": failing})
    watched = cli("runs", "watch", failed.run_id)
    assert watched.exit_code == 1 and "run failed:" in watched.output
    assert "[failed:" in watched.output


def test_sessions_and_workspaces_are_listed(cli: Cli, corral: Corral) -> None:
    one = corral.workspaces.create(name="alpha")
    two = corral.workspaces.create(name="beta")
    first = one.sessions.create(title="first-title")
    second = two.sessions.create(title="second-title")

    everything = cli("sessions", "list")
    assert everything.exit_code == 0, everything.output
    for shown in (first.id, second.id, "first-title", "second-title", "assistant"):
        assert shown in everything.output
    only_beta = cli("sessions", "list", "--workspace", two.id)
    assert second.id in only_beta.output and first.id not in only_beta.output

    workspaces = cli("workspaces", "list")
    assert workspaces.exit_code == 0
    assert workspaces.output.index("beta") < workspaces.output.index("alpha")  # newest first


def test_the_token_comes_from_the_option_or_the_environment(
    start_server: Callable[..., Any],
) -> None:
    server = start_server(api_tokens=[ApiToken(token="cli-secret-token")])
    runner = CliRunner()
    denied = runner.invoke(app, ["workspaces", "list", "--url", server.url])
    assert denied.exit_code == 1 and "unauthorized" in denied.output
    allowed = runner.invoke(
        app, ["workspaces", "list", "--url", server.url, "--token", "cli-secret-token"]
    )
    assert allowed.exit_code == 0, allowed.output
    env = {"CORRAL_URL": server.url, "CORRAL_TOKEN": "cli-secret-token"}
    from_env = runner.invoke(app, ["workspaces", "list"], env=env)
    assert from_env.exit_code == 0, from_env.output
