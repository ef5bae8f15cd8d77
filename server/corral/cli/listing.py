"""`corral workspaces list`, `corral sessions list` and `corral runs watch`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from rich.console import Console
from rich.table import Table

from corral.cli.render import RunPrinter
from corral_client.types import Unset
from corral_sdk import Corral, Session, Workspace


def list_workspaces(corral: Corral, console: Console) -> int:
    table = _table("WORKSPACE", "NAME", "RUNTIME", "UPDATED")
    for ws in corral.workspaces.list():
        runtime = ws.data.runtime if isinstance(ws.data.runtime, str) else ""
        table.add_row(ws.id, ws.name, runtime, _when(ws.data.updated_at))
    console.print(table)
    return 0


def list_sessions(corral: Corral, console: Console, workspace_id: str | None) -> int:
    """The sessions of one workspace, or of every workspace; the most recently active first
    within a workspace."""
    table = _table("SESSION", "WORKSPACE", "TITLE", "AGENT", "LAST RUN", "UPDATED")
    for session in _sessions(corral, workspace_id):
        data = session.data
        when = _when(data.last_run_at), _when(data.updated_at)
        table.add_row(
            session.id, session.workspace_id, session.title or "", data.active_agent_name, *when
        )
    console.print(table)
    return 0


def _sessions(corral: Corral, workspace_id: str | None) -> Iterator[Session]:
    workspaces: Iterable[Workspace] = (
        [corral.workspaces.get(workspace_id)] if workspace_id else corral.workspaces.list()
    )
    for ws in workspaces:
        yield from ws.sessions.list()


def watch_run(corral: Corral, console: Console, run_id: str) -> int:
    """Show a run from its first event (replayed) as it goes on, until it ends; the exit
    status is 0 when it completed, 1 otherwise."""
    stream = corral.runs.watch(run_id)
    printer = RunPrinter(console)
    printer.show(stream)
    result = stream.result()
    printer.summary(result)
    return 0 if result.ok else 1


def _table(*columns: str) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in columns:
        table.add_column(name, no_wrap=name in ("WORKSPACE", "SESSION"), overflow="fold")
    return table


def _when(moment: datetime | Unset) -> str:
    return "" if isinstance(moment, Unset) else moment.strftime("%Y-%m-%d %H:%M:%S")
