"""Workspaces: creation from a runtime, placement rules, import, listing, deletion, catalog."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import (
    TIMESTAMP,
    assert_error,
    create_session,
    create_workspace,
    id_pattern,
    send,
    walk_pages,
)

from corral.testing.live_server import LiveServer

WORKSPACES = "/api/v1/workspaces"


@pytest.fixture
def roots_server(start_server: Callable[..., LiveServer], tmp_path: Path) -> LiveServer:
    """A server that may also place workspaces under `tmp_path / "roots"`."""
    (tmp_path / "roots").mkdir()
    return start_server(workspace_roots=[tmp_path / "roots"])


@pytest.fixture
def roots_api(roots_server: LiveServer) -> Any:
    with roots_server.client() as client:
        yield client


def roots_dir(server: LiveServer) -> Path:
    return server.settings.workspace_roots[0].resolve()


# -- create ---------------------------------------------------------------------------------


def test_create_from_the_default_runtime(server: LiveServer, api: httpx.Client) -> None:
    resp = api.post(
        WORKSPACES, json={"name": "Demo Project!", "runtime": "default", "externalRef": "gh:x/y"}
    )
    assert resp.status_code == 201, resp.text
    ws = resp.json()
    assert id_pattern("ws").match(ws["id"])
    assert ws["name"] == "Demo Project!"
    assert ws["runtime"] == "default"
    assert ws["externalRef"] == "gh:x/y"
    assert ws["executionPolicy"] == "local"
    assert ws["status"] == "active"
    assert ws["kind"] == "project"
    assert ws["readOnly"] is False
    assert TIMESTAMP.match(ws["createdAt"]) and ws["createdAt"] == ws["updatedAt"]
    root = Path(ws["rootPath"])
    assert root == server.settings.workspaces_dir / "demo-project"
    assert (root / "AGENTS.md").is_file()
    assert (root / ".corral" / "agents" / "assistant.md").is_file()
    assert api.get(f"{WORKSPACES}/{ws['id']}").json() == ws


def test_create_layers_user_additions(api: httpx.Client) -> None:
    ws = create_workspace(
        api, agentsMd="# House rules\n", skills=[{"name": "notes", "content": "# Notes\n"}]
    )
    root = Path(ws["rootPath"])
    assert (root / "AGENTS.md").read_text() == "# House rules\n"
    assert (root / ".corral" / "skills" / "notes" / "SKILL.md").read_text() == "# Notes\n"
    skills = api.get(f"{WORKSPACES}/{ws['id']}/catalog").json()["skills"]
    assert "notes" in {s["name"] for s in skills}


def test_same_name_gets_a_second_directory(api: httpx.Client) -> None:
    first, second = create_workspace(api, "twin"), create_workspace(api, "twin")
    assert first["id"] != second["id"]
    assert first["rootPath"] != second["rootPath"]


def test_unknown_runtime_is_404(shared_api: httpx.Client) -> None:
    resp = shared_api.post(WORKSPACES, json={"name": "w", "runtime": "no-such-runtime"})
    error = assert_error(resp, 404, "runtime_not_found")
    assert error["details"] == {"runtime": "no-such-runtime"}


def test_root_path_outside_allowed_dirs_is_403(
    server: LiveServer, api: httpx.Client, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    resp = api.post(WORKSPACES, json={"name": "w", "runtime": "default", "rootPath": str(outside)})
    assert_error(resp, 403, "workspace_path_not_allowed")
    assert not outside.exists()


def test_root_path_escaping_by_dot_dot_is_403(server: LiveServer, api: httpx.Client) -> None:
    sneaky = f"{server.settings.workspaces_dir}/../../escaped"
    resp = api.post(WORKSPACES, json={"name": "w", "runtime": "default", "rootPath": sneaky})
    assert_error(resp, 403, "workspace_path_not_allowed")
    assert not Path(sneaky).resolve().exists()


def test_relative_root_path_is_400(shared_api: httpx.Client) -> None:
    resp = shared_api.post(
        WORKSPACES, json={"name": "w", "runtime": "default", "rootPath": "relative/dir"}
    )
    error = assert_error(resp, 400, "invalid_request")
    assert "rootPath" in error["message"]


def test_root_path_inside_workspace_roots(roots_server: LiveServer, roots_api: Any) -> None:
    target = roots_dir(roots_server) / "placed"
    ws = create_workspace(roots_api, "placed", rootPath=str(target))
    assert ws["rootPath"] == str(target)
    assert (target / "AGENTS.md").is_file() and (target / ".corral").is_dir()


def test_root_path_that_is_not_empty_is_409(roots_server: LiveServer, roots_api: Any) -> None:
    target = roots_dir(roots_server) / "busy"
    target.mkdir()
    (target / "mine.txt").write_text("keep me")
    resp = roots_api.post(
        WORKSPACES, json={"name": "w", "runtime": "default", "rootPath": str(target)}
    )
    assert_error(resp, 409, "workspace_directory_not_empty")
    assert sorted(p.name for p in target.iterdir()) == ["mine.txt"]


# -- import ---------------------------------------------------------------------------------


def test_import_an_existing_directory_copies_nothing(
    roots_server: LiveServer, roots_api: Any
) -> None:
    existing = roots_dir(roots_server) / "project"
    existing.mkdir()
    (existing / "main.py").write_text("print('hi')\n")
    resp = roots_api.post(f"{WORKSPACES}/import", json={"rootPath": str(existing)})
    assert resp.status_code == 201, resp.text
    ws = resp.json()
    assert ws["rootPath"] == str(existing)
    assert ws["name"] == "project"
    assert "runtime" not in ws and ws["readOnly"] is False
    assert sorted(p.name for p in existing.iterdir()) == ["main.py"]


def test_import_a_missing_directory_is_400(roots_server: LiveServer, roots_api: Any) -> None:
    missing = roots_dir(roots_server) / "missing"
    resp = roots_api.post(f"{WORKSPACES}/import", json={"rootPath": str(missing)})
    assert_error(resp, 400, "workspace_path_not_found")


def test_a_workspace_whose_directory_is_gone_is_404(
    api: httpx.Client, workspace: dict[str, Any]
) -> None:
    """Its files are not there to list: 404 `workspace_not_found`, not the 400 of registering a
    missing directory (`workspace_path_not_found`)."""
    shutil.rmtree(workspace["rootPath"])
    resp = api.get(f"/api/v1/sandboxes/{workspace['id']}/files/entries", params={"path": "."})
    assert_error(resp, 404, "workspace_not_found")


def test_import_outside_allowed_dirs_is_403(api: httpx.Client, tmp_path: Path) -> None:
    resp = api.post(f"{WORKSPACES}/import", json={"rootPath": str(tmp_path)})
    assert_error(resp, 403, "workspace_path_not_allowed")


# -- list -----------------------------------------------------------------------------------


def test_list_is_newest_first_by_updated_at(api: httpx.Client) -> None:
    first, second, third = (create_workspace(api, n) for n in ("one", "two", "three"))
    ids = [w["id"] for w in api.get(WORKSPACES).json()["items"]]
    assert ids == [third["id"], second["id"], first["id"]]
    create_session(api, first["id"])  # touches the workspace
    items = api.get(WORKSPACES).json()["items"]
    assert [w["id"] for w in items] == [first["id"], third["id"], second["id"]]
    stamps = [w["updatedAt"] for w in items]
    assert stamps == sorted(stamps, reverse=True)


def test_list_pages_with_next_cursor_until_absent(api: httpx.Client) -> None:
    created = {create_workspace(api, f"w{i}")["id"] for i in range(5)}
    pages = walk_pages(api, WORKSPACES, {"pageSize": 1})
    assert len(pages) == 5 and all(len(p) == 1 for p in pages)
    seen = [w["id"] for page in pages for w in page]
    assert len(seen) == len(set(seen)) and set(seen) == created
    pages = walk_pages(api, WORKSPACES, {"pageSize": 2})
    assert [len(p) for p in pages] == [2, 2, 1]


def test_list_of_nothing_has_no_cursor(api: httpx.Client) -> None:
    assert api.get(WORKSPACES).json() == {"items": []}


def test_cursor_past_the_end_is_an_empty_page(api: httpx.Client) -> None:
    create_workspace(api)
    assert api.get(WORKSPACES, params={"cursor": "50"}).json() == {"items": []}


@pytest.mark.parametrize("cursor", ["abc", "-1", "1.5", "1" * 13])  # empty: test_empty_values
def test_invalid_cursor_is_400(shared_api: httpx.Client, cursor: str) -> None:
    assert_error(shared_api.get(WORKSPACES, params={"cursor": cursor}), 400, "invalid_request")


# -- delete ---------------------------------------------------------------------------------


def test_delete_removes_the_directory_and_everything_in_it(api: httpx.Client) -> None:
    ws = create_workspace(api)
    session = create_session(api, ws["id"])
    sent = send(api, session["id"])
    resp = api.delete(f"{WORKSPACES}/{ws['id']}")
    assert resp.status_code == 204 and resp.content == b""
    assert not Path(ws["rootPath"]).exists()
    assert_error(api.get(f"{WORKSPACES}/{ws['id']}"), 404, "workspace_not_found")
    assert_error(api.get(f"/api/v1/sessions/{session['id']}"), 404, "session_not_found")
    assert_error(api.get(f"/api/v1/runs/{sent['runId']}"), 404, "run_not_found")
    assert_error(api.delete(f"{WORKSPACES}/{ws['id']}"), 404, "workspace_not_found")
    assert api.get(WORKSPACES).json()["items"] == []


def test_delete_of_an_imported_workspace_leaves_its_directory(
    roots_server: LiveServer, roots_api: Any
) -> None:
    existing = roots_dir(roots_server) / "kept"
    existing.mkdir()
    (existing / "data.txt").write_text("precious")
    ws = roots_api.post(f"{WORKSPACES}/import", json={"rootPath": str(existing)}).json()
    assert roots_api.delete(f"{WORKSPACES}/{ws['id']}").status_code == 204
    assert (existing / "data.txt").read_text() == "precious"


def test_import_read_only(roots_server: LiveServer, roots_api: Any) -> None:
    existing = roots_dir(roots_server) / "frozen"
    existing.mkdir()
    body = {"rootPath": str(existing), "readOnly": True}
    ws = roots_api.post(f"{WORKSPACES}/import", json=body).json()
    assert ws["readOnly"] is True
    assert roots_api.get(f"{WORKSPACES}/{ws['id']}").json()["readOnly"] is True


def test_delete_of_a_read_only_import_leaves_its_directory_even_in_the_managed_dir(
    server: LiveServer, api: httpx.Client
) -> None:
    existing = server.settings.workspaces_dir / "frozen"
    existing.mkdir(parents=True)
    (existing / "data.txt").write_text("precious")
    body = {"rootPath": str(existing), "readOnly": True}
    ws = api.post(f"{WORKSPACES}/import", json=body).json()
    assert api.delete(f"{WORKSPACES}/{ws['id']}").status_code == 204
    assert (existing / "data.txt").read_text() == "precious"


# -- catalog --------------------------------------------------------------------------------


def test_catalog_of_the_default_runtime(api: httpx.Client, workspace: dict[str, Any]) -> None:
    resp = api.get(f"{WORKSPACES}/{workspace['id']}/catalog")
    assert resp.status_code == 200
    catalog = resp.json()
    assert catalog["workspaceId"] == workspace["id"]
    agents = {a["name"]: a for a in catalog["agents"]}
    assert agents["assistant"]["mode"] == "primary"
    assert agents["reviewer"]["mode"] == "subagent"
    assert all(a["source"] in {"platform", "workspace"} for a in agents.values())
    models = {m["ref"]: m for m in catalog["models"]}
    assert models["workspace/scripted"]["provider"] == "scripted"
    actions = {a["name"]: a for a in catalog["actions"]}
    assert actions["list-files"]["inputSchema"]["type"] == "object"
    assert actions["list-files"]["callableByApi"] is True
    assert actions["list-files"]["retryPolicy"] == "safe"
    assert "debugging" in {s["name"] for s in catalog["skills"]}
    # only what the server offers: none of OAH's tools it does not implement
    assert catalog["nativeTools"] == [
        "Bash",
        "Read",
        "Write",
        "Edit",
        "MultiEdit",
        "LS",
        "Glob",
        "Grep",
        "TodoWrite",
    ]
    assert catalog["engineTools"] == ["run_action", "Skill", "AgentSwitch", "SubAgent"]
    assert "warnings" not in catalog  # every file of the runtime loads


def test_catalog_says_which_files_it_skipped_and_why(api: httpx.Client) -> None:
    ws = create_workspace(api, "skips")
    hooks = Path(ws["rootPath"]) / ".corral" / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    declared = "handlerType: command\nevents: [tool.started]\ncommand: 'true'\n"
    (hooks / "lint.yaml").write_text(declared + "matcher: '('\n")
    (hooks / "ok.yaml").write_text(declared)
    catalog = api.get(f"{WORKSPACES}/{ws['id']}/catalog").json()
    assert [h["name"] for h in catalog["hooks"]] == ["ok"]
    [warning] = catalog["warnings"]
    assert warning.startswith(".corral/hooks/lint.yaml: ") and "matcher" in warning


# -- placement that would overlap other workspaces ------------------------------------------


def test_root_path_may_not_be_the_managed_dir_itself(server: LiveServer, api: httpx.Client) -> None:
    managed = server.settings.workspaces_dir
    resp = api.post(WORKSPACES, json={"name": "w", "runtime": "default", "rootPath": str(managed)})
    assert resp.status_code in {400, 403, 409}, resp.text
    assert_error(resp, resp.status_code)
    assert not (managed / "AGENTS.md").exists()


def test_deleting_a_workspace_never_deletes_another_workspaces_files(api: httpx.Client) -> None:
    outer = create_workspace(api, "outer")
    nested = f"{outer['rootPath']}/nested"
    resp = api.post(WORKSPACES, json={"name": "inner", "runtime": "default", "rootPath": nested})
    if resp.status_code != 201:  # refusing the overlap is one correct answer
        assert_error(resp, resp.status_code)
        return
    inner = resp.json()
    assert api.delete(f"{WORKSPACES}/{outer['id']}").status_code == 204
    assert api.get(f"{WORKSPACES}/{inner['id']}").status_code == 200
    assert (Path(inner["rootPath"]) / "AGENTS.md").is_file()
