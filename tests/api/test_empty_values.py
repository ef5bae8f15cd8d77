"""Empty values OAH's contract calls valid: an optional query parameter sent empty, an empty
`ifMatch`, and the empty names and ids of OAH's request bodies are read as absent
(docs/oah-differences.md lists where OAH itself answers otherwise)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from helpers import create_session, create_workspace, send

from corral.testing.live_server import LiveServer


@pytest.mark.parametrize(
    "listing",
    [
        "/api/v1/workspaces",
        "/api/v1/workspaces/{ws}/sessions",
        "/api/v1/sessions/{ses}/messages",
        "/api/v1/sessions/{ses}/runs",
        "/api/v1/sessions/{ses}/children",
        "/api/v1/sandboxes/{ws}/files/entries",
    ],
)
def test_an_empty_cursor_is_the_first_page(api: httpx.Client, listing: str) -> None:
    ws = create_workspace(api)
    ses = create_session(api, ws["id"])
    send(api, ses["id"])
    url = listing.format(ws=ws["id"], ses=ses["id"])
    first = api.get(url)
    empty = api.get(url, params={"cursor": ""})
    assert empty.status_code == 200, empty.text
    assert empty.json() == first.json()


def test_an_empty_run_id_streams_every_run_of_the_session(api: httpx.Client) -> None:
    ses = create_session(api, create_workspace(api)["id"])
    runs = {send(api, ses["id"], text)["runId"] for text in ("one", "two")}
    params = {"runId": "", "cursor": "", "follow": "false"}
    resp = api.get(f"/api/v1/sessions/{ses['id']}/events", params=params)
    assert resp.status_code == 200, resp.text
    assert {run_id for run_id in runs if f'"runId":"{run_id}"' in resp.text} == runs


def test_an_empty_if_match_is_no_condition(api: httpx.Client) -> None:
    ws = create_workspace(api)
    files = f"/api/v1/sandboxes/{ws['id']}/files"
    written = api.put(
        f"{files}/content", json={"path": "notes.txt", "content": "one", "ifMatch": ""}
    )
    assert written.status_code == 200, written.text
    body = {"path": "notes.txt", "content": "two", "ifMatch": ""}
    replaced = api.put(f"{files}/content", json=body)
    assert replaced.status_code == 200, replaced.text
    uploaded = api.put(
        f"{files}/upload",
        params={"path": "notes.txt", "ifMatch": ""},
        content=b"three",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert uploaded.status_code == 200, uploaded.text
    read = api.get(f"{files}/content", params={"path": "notes.txt"})
    assert read.json()["content"] == "three"


@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("/api/v1/sandboxes/{ws}/files/content", {"path": ""}),  # required
        ("/api/v1/workspaces", {"pageSize": ""}),  # an integer: empty is no number
        ("/api/v1/sandboxes/{ws}/files/entries", {"sortBy": ""}),  # not one of the names
    ],
)
def test_a_parameter_whose_schema_refuses_empty_is_still_rejected(
    api: httpx.Client, route: str, params: dict[str, str]
) -> None:
    ws = create_workspace(api)
    resp = api.get(route.format(ws=ws["id"]), params=params)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "invalid_request"


def test_an_empty_agent_name_or_title_is_absent(api: httpx.Client) -> None:
    ws = create_workspace(api)
    ses = create_session(api, ws["id"], agentName="", title="")
    assert ses["agentName"] == ses["activeAgentName"] == create_session(api, ws["id"])["agentName"]
    assert "title" not in ses


def test_an_action_with_an_empty_session_id_and_agent_name_gets_a_session_of_its_own(
    api: httpx.Client,
) -> None:
    ws = create_workspace(api)
    resp = api.post(
        f"/api/v1/workspaces/{ws['id']}/actions/list-files/runs",
        json={"sessionId": "", "agentName": ""},
    )
    assert resp.status_code == 202, resp.text
    session = api.get(f"/api/v1/sessions/{resp.json()['sessionId']}")
    assert session.status_code == 200 and session.json()["workspaceId"] == ws["id"]


def test_an_import_with_an_empty_name_is_named_after_its_directory(
    start_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    roots = tmp_path / "roots"
    (roots / "project").mkdir(parents=True)
    server = start_server(workspace_roots=[roots])
    with server.client() as api:
        resp = api.post(
            "/api/v1/workspaces/import",
            json={"rootPath": str((roots / "project").resolve()), "name": ""},
        )
    assert resp.status_code == 201, resp.text
    assert resp.json()["name"] == "project"
