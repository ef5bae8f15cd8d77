"""Small helpers shared by the API integration tests: resources, pages and zips. The calls
every test directory makes (the error envelope, a workspace, a session, a message, a run) are
`corral.testing.api_calls`, re-exported here."""

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

from corral.testing.api_calls import assert_error as assert_error
from corral.testing.api_calls import create_session as create_session
from corral.testing.api_calls import create_workspace as create_workspace
from corral.testing.api_calls import get_run as get_run
from corral.testing.api_calls import new_session as new_session
from corral.testing.api_calls import send as send

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


# -- resources ------------------------------------------------------------------------------


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
