"""`corral` on the command line: the server (`serve`, `worker`) and a terminal client of it
(`chat`, `runs watch`, `sessions list`, `workspaces list`).

The client commands reach the server at `--url` (`$CORRAL_URL`, default the local server) with
the bearer token `--token` (`$CORRAL_TOKEN`). They use the Python SDK, imported only when one
of them runs, so the server commands need nothing beyond the server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from corral_sdk import Corral

app = typer.Typer(
    name="corral",
    help="Corral, an open agent-harness server.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
runs_app = typer.Typer(help="Runs: follow one as it happens.", no_args_is_help=True)
sessions_app = typer.Typer(help="Sessions of the workspaces.", no_args_is_help=True)
workspaces_app = typer.Typer(help="Workspaces.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(sessions_app, name="sessions")
app.add_typer(workspaces_app, name="workspaces")

Url = Annotated[
    str, typer.Option("--url", envvar="CORRAL_URL", help="The Corral server to talk to.")
]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="CORRAL_TOKEN", help="Bearer token.", show_default=False),
]
DEFAULT_URL = "http://127.0.0.1:8787"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default 8787).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="API processes sharing the port (default 1).", show_default=False),
    ] = None,
    listen_fd: Annotated[int | None, typer.Option(hidden=True)] = None,
    control_fd: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run the API server (settings: corral.yaml and CORRAL_* variables)."""
    from corral.cli.server import serve as run_server

    supervised = None if listen_fd is None or control_fd is None else (listen_fd, control_fd)
    run_server(host, port, workers, supervised)


@app.command()
def worker() -> None:
    """Execute runs, without serving HTTP.

    Run workers beside API processes started with CORRAL_RUN_WORKER=false; all share one
    database (settings as for serve)."""
    from corral.cli.server import work

    work()


@app.command()
def chat(
    session: Annotated[str | None, typer.Option(help="Continue this session.")] = None,
    workspace: Annotated[
        str | None, typer.Option(help="Start a session in this workspace (default: the latest).")
    ] = None,
    metadata: Annotated[
        str | None,
        typer.Option(help="JSON object sent with every message (e.g. a scripted model's script)."),
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Chat with an agent in a terminal.

    Answers stream in as they are written and tool calls show as they run. Ctrl-C interrupts
    the agent (cancels its run); Ctrl-D or /exit leaves."""
    from corral.cli.chat import run_chat

    extra = _json_object(metadata, "--metadata") if metadata is not None else None
    _client_command(
        url,
        token,
        lambda corral, console: run_chat(
            corral, console, session_id=session, workspace_id=workspace, metadata=extra
        ),
    )


@runs_app.command("watch")
def runs_watch(run_id: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Show a run's events, from its start, until it ends.

    The exit status is 0 when the run completed, 1 otherwise."""
    from corral.cli.listing import watch_run

    _client_command(url, token, lambda corral, console: watch_run(corral, console, run_id))


@sessions_app.command("list")
def sessions_list(
    workspace: Annotated[str | None, typer.Option(help="Only this workspace's.")] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """List sessions, the most recently active first in each workspace."""
    from corral.cli.listing import list_sessions

    _client_command(url, token, lambda corral, console: list_sessions(corral, console, workspace))


@workspaces_app.command("list")
def workspaces_list(url: Url = DEFAULT_URL, token: Token = None) -> None:
    """List workspaces, the most recently updated first."""
    from corral.cli.listing import list_workspaces

    _client_command(url, token, list_workspaces)


def _client_command(url: str, token: str | None, command: Callable[[Corral, Console], int]) -> None:
    console = Console(highlight=False)
    with _connected(url, token, console) as corral:
        code = command(corral, console)
    raise typer.Exit(code)


@contextmanager
def _connected(url: str, token: str | None, console: Console) -> Iterator[Corral]:
    """The SDK client; an API error ends the command with its message, not a traceback."""
    from corral_sdk import Corral, CorralError

    try:
        with Corral(url, token=token) as corral:
            yield corral
    except CorralError as exc:
        console.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from None


def _json_object(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint=option) from None
    if not isinstance(value, dict):
        raise typer.BadParameter("must be a JSON object", param_hint=option)
    return value


def main() -> None:
    app()
