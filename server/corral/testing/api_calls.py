"""Calls to a live server's API that tests share: the error envelope checked, a workspace and a
session created, a message sent, a run read. Each asserts the status the contract promises, so a
test reads as the steps it takes. `api` is an `httpx.Client` whose base URL is the server's
(paths start with `/api/v1`) and which carries the token the server wants, if any."""

from __future__ import annotations

import re
from typing import Any

import httpx


def assert_error(resp: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert `resp` is the error envelope with this status (and code); return `error`."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) <= {"code", "message", "details"}, error
    assert isinstance(error["code"], str) and re.fullmatch(r"[a-z][a-z0-9_]*", error["code"])
    assert isinstance(error["message"], str) and error["message"], error
    if "details" in error:
        assert isinstance(error["details"], dict), error
    if code is not None:
        assert error["code"] == code, error
    return error


def create_workspace(
    api: httpx.Client, name: str = "demo", runtime: str = "default", **extra: Any
) -> dict[str, Any]:
    resp = api.post("/api/v1/workspaces", json={"name": name, "runtime": runtime, **extra})
    assert resp.status_code == 201, resp.text
    workspace: dict[str, Any] = resp.json()
    return workspace


def create_session(api: httpx.Client, workspace_id: str, **body: Any) -> dict[str, Any]:
    resp = api.post(f"/api/v1/workspaces/{workspace_id}/sessions", json=body)
    assert resp.status_code == 201, resp.text
    session: dict[str, Any] = resp.json()
    return session


def new_session(api: httpx.Client, **body: Any) -> dict[str, Any]:
    """A session in a fresh workspace of the default runtime."""
    return create_session(api, create_workspace(api)["id"], **body)


def send(
    api: httpx.Client,
    session_id: str,
    content: Any = "hello",
    *,
    script: list[Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Send a message (answered by `script` when the session's model is the scripted one);
    returns the 202's `MessageAccepted` (`runId`, `delivery`, ...)."""
    body: dict[str, Any] = {"content": content, **extra}
    if script is not None:
        body["metadata"] = {"script": script}
    resp = api.post(f"/api/v1/sessions/{session_id}/messages", json=body)
    assert resp.status_code == 202, resp.text
    accepted: dict[str, Any] = resp.json()
    return accepted


def get_run(api: httpx.Client, run_id: str) -> dict[str, Any]:
    resp = api.get(f"/api/v1/runs/{run_id}")
    assert resp.status_code == 200, resp.text
    run: dict[str, Any] = resp.json()
    return run
