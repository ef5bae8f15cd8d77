"""Helpers of the command and terminal tests: a live server with sandbox settings, a workspace
with a session, and process-table probes that tell a live process from a zombie."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from corral.config import Settings
from corral.testing.live_server import live_server
from corral.testing.processes import running_processes
from corral_client import Client
from corral_client.api.commands import (
    run_foreground_command,
    run_process_command,
    start_background_command,
)
from corral_client.models import (
    BackgroundCommandRequest,
    BackgroundCommandResult,
    CommandResult,
    EnvironmentVariables,
    ForegroundCommandRequest,
    ProcessCommandRequest,
)

OUTPUT_CAP = 64 * 1024
VISIBLE = "CORRAL_TEST_VISIBLE"  # the one server variable the test servers pass through
ASSISTANT = "---\nname: assistant\nmode: primary\n---\nYou help.\n"


@dataclass
class Served:
    url: str
    data_dir: Path


@contextmanager
def serving(data_dir: Path, **overrides: Any) -> Iterator[Served]:
    settings = Settings(data_dir=data_dir, validate_responses=True, **overrides)
    with live_server(settings) as running:
        yield Served(running.url, data_dir)


@dataclass
class Box:
    """A workspace on a live server with one session, reached through both clients."""

    id: str
    root: Path
    session_id: str
    http: httpx.Client
    client: Client
    data_dir: Path

    def sh(self, command: str, **body: Any) -> CommandResult:
        env = body.pop("env", None)
        if env is not None:
            body["env"] = EnvironmentVariables.from_dict(env)
        result = run_foreground_command.sync(
            self.id, client=self.client, body=ForegroundCommandRequest(command=command, **body)
        )
        assert isinstance(result, CommandResult), result
        return result

    def process(self, executable: str, *args: str, **body: Any) -> CommandResult:
        result = run_process_command.sync(
            self.id,
            client=self.client,
            body=ProcessCommandRequest(executable=executable, args=list(args), **body),
        )
        assert isinstance(result, CommandResult), result
        return result

    def background(self, command: str, *, session: bool = True) -> BackgroundCommandResult:
        body = BackgroundCommandRequest(command=command)
        if session:
            body.session_id = self.session_id
        result = start_background_command.sync(self.id, client=self.client, body=body)
        assert isinstance(result, BackgroundCommandResult), result
        return result

    def post(self, route: str, body: dict[str, Any]) -> httpx.Response:
        # json.dumps escapes lone surrogates (`\\ud800`), which hostile clients do send.
        return self.http.post(
            f"/api/v1/sandboxes/{self.id}/commands/{route}",
            content=json.dumps(body),
            headers={"content-type": "application/json"},
        )

    def terminal(self, terminal_id: str, action: str = "", **kwargs: Any) -> httpx.Response:
        url = f"/api/v1/sessions/{self.session_id}/terminals/{terminal_id}"
        if action:
            return self.http.post(f"{url}/{action}", **kwargs)
        return self.http.get(url, **kwargs)


def new_box(
    served: Served,
    http: httpx.Client,
    client: Client,
    name: str = "box",
    *,
    read_only: bool = False,
) -> Box:
    """A workspace with one session: made from the default runtime, or (`read_only`) a
    directory holding only its agent, imported read-only."""
    if read_only:
        root = served.data_dir / "workspaces" / f"{name}-{uuid.uuid4().hex}"
        (root / ".corral" / "agents").mkdir(parents=True)
        (root / ".corral" / "agents" / "assistant.md").write_text(ASSISTANT)
        body = {"rootPath": str(root), "readOnly": True}
        workspace = http.post("/api/v1/workspaces/import", json=body)
    else:
        workspace = http.post("/api/v1/workspaces", json={"name": name, "runtime": "default"})
    assert workspace.status_code == 201, workspace.text
    ws = workspace.json()
    session = http.post(f"/api/v1/workspaces/{ws['id']}/sessions", json={})
    assert session.status_code == 201, session.text
    return Box(ws["id"], Path(ws["rootPath"]), session.json()["id"], http, client, served.data_dir)


# -- the process table ----------------------------------------------------------------------
# This machine's init never reaps orphans, so a killed process may linger as a zombie; `kill(0)`
# still finds those. What matters is that nothing *runs*: these helpers skip zombies.


def group_members(pgid: int) -> list[int]:
    """Running processes of the group (`os.killpg(pgid, 0)` first: no group at all is the
    ProcessLookupError case)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return []
    return [proc.pid for proc, _ in running_processes() if proc.group == pgid]


def running_with(marker: str) -> list[int]:
    """Running processes whose command line contains `marker` (seen from the host, so also
    inside bwrap's pid namespace)."""
    return [proc.pid for proc, argv in running_processes() if marker.encode() in b" ".join(argv)]
