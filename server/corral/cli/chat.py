"""`corral chat`: talk to an agent from the terminal.

Each line typed is a message; the answer streams in as it is written, tool calls show as they
start and end. Ctrl-C while a run executes cancels that run and returns to the prompt; a second
Ctrl-C before it has ended, Ctrl-C at the prompt, Ctrl-D or `/exit` leave.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console

from corral.cli.render import RunPrinter
from corral_sdk import Corral, RunStream, Session

PROMPT = "[bold green]you›[/] "
LEAVE = {"/exit", "/quit"}


def run_chat(
    corral: Corral,
    console: Console,
    *,
    session_id: str | None,
    workspace_id: str | None,
    metadata: Mapping[str, Any] | None,
) -> int:
    session = open_session(corral, console, session_id, workspace_id)
    console.print(
        f"[dim]session {session.id} in workspace {session.workspace_id}. Ctrl-C interrupts the "
        "agent, Ctrl-D leaves.[/]"
    )
    while True:
        try:
            line = console.input(PROMPT)
        except (EOFError, KeyboardInterrupt):
            console.print()
            return 0
        text = line.strip()
        if text in LEAVE:
            return 0
        if text and not converse(corral, console, session.stream(text, metadata=metadata)):
            return 130  # left while the agent was being interrupted


def open_session(
    corral: Corral, console: Console, session_id: str | None, workspace_id: str | None
) -> Session:
    """The session asked for; else a new one in the workspace asked for, else in the most
    recently used workspace (a new `chat` workspace when there is none)."""
    if session_id is not None:
        return corral.sessions.get(session_id)
    if workspace_id is not None:
        workspace = corral.workspaces.get(workspace_id)
    elif (latest := next(corral.workspaces.list(page_size=1), None)) is not None:
        workspace = latest
    else:
        workspace = corral.workspaces.create(name="chat", runtime="default")
    return workspace.sessions.create(title="chat")


def converse(corral: Corral, console: Console, stream: RunStream) -> bool:
    """Show one run to its end; False when the user left instead of waiting for it."""
    printer = RunPrinter(console)
    try:
        printer.show(stream)
    except KeyboardInterrupt:
        if stream.run_id is None:
            # Interrupted while sending: the server may or may not have taken the message.
            console.print(
                "\n[yellow]interrupted while sending; the message may still run "
                "(see `corral runs watch` or the session's runs)[/]"
            )
            return True
        console.print("\n[yellow]interrupting the agent… (Ctrl-C again to leave)[/]")
        try:
            corral.runs.cancel(stream.run_id)
            printer.show(stream)  # continues after the last event seen, to `run.cancelled`
        except KeyboardInterrupt:
            return False
    try:
        printer.summary(stream.result())
    except KeyboardInterrupt:
        console.print()  # the run has ended; only its summary is skipped
    return True
