"""Small helpers shared by the API integration tests: resources, the error envelope, pages,
zips and direct reads/writes of the server's SQLite file."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn
import yaml

from corral.app import build_app
from corral.config import Settings
from corral.core.container import Core
from corral.testing.processes import free_port

if TYPE_CHECKING:
    from conftest import LiveServer

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
JSON = {"content-type": "application/json"}
OCTET = {"content-type": "application/octet-stream"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@cache
def load_spec() -> dict[str, Any]:
    """openapi.yaml, parsed once (with libyaml when available)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec: dict[str, Any] = yaml.load((ROOT / "openapi.yaml").read_text(), Loader=loader)
    return spec


def id_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"^{prefix}_[0-9a-f]{{32}}$")


# -- the error envelope ---------------------------------------------------------------------


def assert_error(resp: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert `resp` is the error envelope with this status (and code); return `error`."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) <= {"code", "message", "details"}, error
    assert isinstance(error["code"], str) and re.fullmatch(r"[a-z][a-z0-9_]*", error["code"])
    assert isinstance(error["message"], str) and error["message"], error
    if "details" in error:
        assert isinstance(error["details"], dict), error
    if code is not None:
        assert error["code"] == code, error
    return error


# -- resources ------------------------------------------------------------------------------


def create_workspace(
    api: httpx.Client, name: str = "demo", runtime: str = "default", **extra: Any
) -> dict[str, Any]:
    resp = api.post("/api/v1/workspaces", json={"name": name, "runtime": runtime, **extra})
    assert resp.status_code == 201, resp.text
    return resp.json()


def create_session(api: httpx.Client, workspace_id: str, **body: Any) -> dict[str, Any]:
    resp = api.post(f"/api/v1/workspaces/{workspace_id}/sessions", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def new_session(api: httpx.Client, **body: Any) -> dict[str, Any]:
    """A session in a fresh workspace of the default runtime."""
    return create_session(api, create_workspace(api)["id"], **body)


def send(api: httpx.Client, session_id: str, content: Any = "hello", **extra: Any) -> dict:
    resp = api.post(f"/api/v1/sessions/{session_id}/messages", json={"content": content, **extra})
    assert resp.status_code == 202, resp.text
    return resp.json()


def get_run(api: httpx.Client, run_id: str) -> dict[str, Any]:
    resp = api.get(f"/api/v1/runs/{run_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def run_status(api: httpx.Client, run_id: str) -> str:
    return str(get_run(api, run_id)["status"])


def queue(api: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    resp = api.get(f"/api/v1/sessions/{session_id}/queue")
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def queued_run_ids(api: httpx.Client, session_id: str) -> list[str]:
    """Run ids of the session queue in order, checking positions are exactly 1..n."""
    items = queue(api, session_id)
    assert [i["position"] for i in items] == list(range(1, len(items) + 1)), items
    return [i["runId"] for i in items]


def get_message(api: httpx.Client, session_id: str, message_id: str) -> dict[str, Any]:
    resp = api.get(f"/api/v1/sessions/{session_id}/messages/{message_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def steps(api: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    resp = api.get(f"/api/v1/runs/{run_id}/steps")
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


# -- pagination -----------------------------------------------------------------------------


def walk_pages(
    api: httpx.Client, path: str, params: Mapping[str, Any] | None = None, max_pages: int = 100
) -> list[list[dict[str, Any]]]:
    """Follow `nextCursor` until it is absent; returns the pages' items."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    for _ in range(max_pages):
        query = dict(params or {})
        if cursor is not None:
            query["cursor"] = cursor
        resp = api.get(path, params=query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body.get("nextCursor", "absent") is not None, "nextCursor must be omitted, not null"
        pages.append(body["items"])
        cursor = body.get("nextCursor")
        if cursor is None:
            return pages
    raise AssertionError(f"{path}: still paging after {max_pages} pages")


# -- runtime archives -----------------------------------------------------------------------

AGENT_X = "---\nname: x\nmode: primary\ndescription: The x agent\n---\nYou are x.\n"


def build_zip(files: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def runtime_zip(agents_md: str = "# Rules\n") -> bytes:
    """A runtime with one primary agent `x` (no `assistant`) and an AGENTS.md."""
    return build_zip({".corral/agents/x.md": AGENT_X, "AGENTS.md": agents_md})


# -- the server's SQLite file ---------------------------------------------------------------


@contextmanager
def database(server: LiveServer | SharedServer) -> Iterator[sqlite3.Connection]:
    path = server.settings.data_dir / "corral.db"
    with closing(sqlite3.connect(path, timeout=10)) as conn:
        conn.row_factory = sqlite3.Row
        yield conn


def set_run_status(
    server: LiveServer | SharedServer, run_id: str, status: str, error_code: str | None = None
) -> None:
    """Put a run in a state the API cannot reach yet (no runtime executes runs so far)."""
    with database(server) as conn:
        changed = conn.execute(
            "UPDATE runs SET status = ?, error_code = ?, error_message = ? WHERE id = ?",
            (status, error_code, error_code and f"test set {error_code}", run_id),
        ).rowcount
        conn.commit()
    assert changed == 1, run_id


def session_events(server: LiveServer | SharedServer, session_id: str) -> list[dict[str, Any]]:
    with database(server) as conn:
        rows = conn.execute(
            "SELECT id, cursor, run_id, event, data, created_at FROM session_events"
            " WHERE session_id = ? ORDER BY cursor",
            (session_id,),
        ).fetchall()
    return [{**dict(row), "data": json.loads(row["data"])} for row in rows]


# -- a server outside the per-test fixtures -------------------------------------------------


@dataclass
class SharedServer:
    """What `LiveServer` offers, for a server that outlives one test."""

    url: str
    core: Core
    settings: Settings

    def client(self, token: str | None = None) -> httpx.Client:
        """A client without keep-alive: a connection idle past uvicorn's keep-alive timeout
        (while other tests run) is closed by the server just as the client reuses it."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        limits = httpx.Limits(max_keepalive_connections=0)
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, limits=limits)


@contextmanager
def serving(settings: Settings) -> Iterator[SharedServer]:
    """Serve `settings` on a loopback port in a thread, as `start_server` does, for fixtures
    wider than one test."""
    app, core = build_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", loop="asyncio")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        yield SharedServer(f"http://127.0.0.1:{port}", core, settings)
    finally:
        server.should_exit = True
        thread.join(10)
