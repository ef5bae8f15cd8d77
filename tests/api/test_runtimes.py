"""Runtimes: the built-in template, zip uploads, replacement, deletion and hostile archives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import (
    OCTET,
    assert_error,
    build_zip,
    create_session,
    create_workspace,
    runtime_zip,
)

from corral.testing.live_server import LiveServer

RUNTIMES = "/api/v1/runtimes"


@pytest.fixture
def server(shared_server: LiveServer) -> LiveServer:
    """Runtimes are global, but every test here uses runtime names of its own: share."""
    return shared_server


def upload(api: httpx.Client, name: str, archive: bytes, **params: Any) -> httpx.Response:
    return api.post(
        f"{RUNTIMES}/upload", params={"name": name, **params}, content=archive, headers=OCTET
    )


def runtime_names(api: httpx.Client) -> list[str]:
    resp = api.get(RUNTIMES)
    assert resp.status_code == 200
    return [r["name"] for r in resp.json()["items"]]


def test_default_runtime_is_built_in(shared_api: httpx.Client) -> None:
    items = {r["name"]: r for r in shared_api.get(RUNTIMES).json()["items"]}
    assert items["default"]["builtIn"] is True
    assert items["default"]["description"]


def test_uploaded_runtime_is_listed_and_used_by_workspaces(api: httpx.Client) -> None:
    resp = upload(api, "mine", runtime_zip(agents_md="# Mine\n"))
    assert resp.status_code == 201, resp.text
    assert resp.json() == {"name": "mine", "builtIn": False}
    assert {"default", "mine"} <= set(runtime_names(api))

    ws = create_workspace(api, "from-mine", runtime="mine")
    assert ws["runtime"] == "mine"
    catalog = api.get(f"/api/v1/workspaces/{ws['id']}/catalog").json()
    assert catalog["agents"] == [
        {"name": "x", "mode": "primary", "source": "workspace", "description": "The x agent"}
    ]
    # the zip's AGENTS.md was copied into the workspace
    assert (Path(ws["rootPath"]) / "AGENTS.md").read_text() == "# Mine\n"


def test_runtime_without_assistant_needs_an_explicit_agent(api: httpx.Client) -> None:
    assert upload(api, "only-x", runtime_zip()).status_code == 201
    ws = create_workspace(api, runtime="only-x")
    resp = api.post(f"/api/v1/workspaces/{ws['id']}/sessions", json={})
    assert_error(resp, 409, "missing_default_agent")
    assert create_session(api, ws["id"], agentName="x")["activeAgentName"] == "x"


def test_zip_of_a_folder_is_unwrapped(api: httpx.Client) -> None:
    archive = build_zip({"wrapped/.corral/agents/x.md": "---\nmode: primary\n---\nHi\n"})
    assert upload(api, "wrapped", archive).status_code == 201
    ws = create_workspace(api, runtime="wrapped")
    agents = api.get(f"/api/v1/workspaces/{ws['id']}/catalog").json()["agents"]
    assert [a["name"] for a in agents] == ["x"]


def test_upload_of_an_existing_name_is_409_unless_overwrite(api: httpx.Client) -> None:
    assert upload(api, "twice", runtime_zip()).status_code == 201
    error = assert_error(upload(api, "twice", runtime_zip()), 409, "runtime_already_exists")
    assert error["details"] == {"name": "twice"}
    resp = upload(api, "twice", runtime_zip(), overwrite="true")
    assert resp.status_code == 201, resp.text
    assert runtime_names(api).count("twice") == 1


def test_built_in_runtime_cannot_be_uploaded_over(api: httpx.Client) -> None:
    assert_error(upload(api, "default", runtime_zip()), 409, "runtime_already_exists")
    assert_error(upload(api, "default", runtime_zip(), overwrite="true"), 403, "runtime_read_only")


def test_put_replaces_an_existing_runtime(api: httpx.Client) -> None:
    assert upload(api, "evolving", runtime_zip(agents_md="v1\n")).status_code == 201
    resp = api.put(f"{RUNTIMES}/evolving", content=runtime_zip(agents_md="v2\n"), headers=OCTET)
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"] == "evolving"
    ws = create_workspace(api, runtime="evolving")
    assert (Path(ws["rootPath"]) / "AGENTS.md").read_text() == "v2\n"


def test_put_of_an_unknown_runtime_is_404(api: httpx.Client) -> None:
    resp = api.put(f"{RUNTIMES}/nothing-here", content=runtime_zip(), headers=OCTET)
    assert_error(resp, 404, "runtime_not_found")
    assert "nothing-here" not in runtime_names(api)


def test_put_of_the_built_in_runtime_is_403(shared_api: httpx.Client) -> None:
    resp = shared_api.put(f"{RUNTIMES}/default", content=runtime_zip(), headers=OCTET)
    assert_error(resp, 403, "runtime_read_only")


def test_delete_then_delete_again(api: httpx.Client) -> None:
    assert upload(api, "doomed", runtime_zip()).status_code == 201
    resp = api.delete(f"{RUNTIMES}/doomed")
    assert resp.status_code == 204
    assert resp.content == b""
    assert "doomed" not in runtime_names(api)
    assert_error(api.delete(f"{RUNTIMES}/doomed"), 404, "runtime_not_found")
    resp = api.post("/api/v1/workspaces", json={"name": "w", "runtime": "doomed"})
    assert_error(resp, 404, "runtime_not_found")


def test_not_a_zip_is_400(shared_api: httpx.Client) -> None:
    resp = upload(shared_api, "broken", b"this is not a zip archive")
    assert_error(resp, 400, "invalid_runtime_zip")
    assert "broken" not in runtime_names(shared_api)


@pytest.mark.parametrize("archive", [b"", build_zip({})], ids=["no-bytes", "no-files"])
def test_empty_upload_is_400(shared_api: httpx.Client, archive: bytes) -> None:
    assert_error(upload(shared_api, "empty", archive), 400, "empty_runtime_zip")


@pytest.mark.parametrize(
    "entry", ["../evil", "a/../../evil", "/abs/evil", "dir\\..\\evil"], ids=str
)
def test_zip_with_an_escaping_path_is_400_and_writes_nothing(
    server: LiveServer, api: httpx.Client, entry: str
) -> None:
    archive = build_zip({entry: "pwned", "AGENTS.md": "# x\n"})
    assert_error(upload(api, "evil", archive), 400, "invalid_runtime_zip")
    assert "evil" not in runtime_names(api)
    data_dir = server.settings.data_dir.resolve()
    assert not (data_dir.parent / "evil").exists()
    assert not any(p.name == "evil" for p in data_dir.rglob("*"))
    assert not any(p.is_file() and p.read_bytes() == b"pwned" for p in data_dir.rglob("*"))
    assert not Path("/abs/evil").exists()


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/zip"])
def test_upload_with_a_wrong_content_type_is_415(
    shared_api: httpx.Client, content_type: str
) -> None:
    resp = shared_api.post(
        f"{RUNTIMES}/upload",
        params={"name": "typed"},
        content=runtime_zip(),
        headers={"content-type": content_type},
    )
    assert_error(resp, 415)
    assert "typed" not in runtime_names(shared_api)


@pytest.mark.parametrize("name", ["bad name", "a/b", "x" * 129, ""])
def test_invalid_runtime_name_is_400(shared_api: httpx.Client, name: str) -> None:
    assert_error(upload(shared_api, name, runtime_zip()), 400, "invalid_request")
