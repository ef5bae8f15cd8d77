"""Small helpers shared by the API integration tests: resources, the error envelope, pages
and zips."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import yaml

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
