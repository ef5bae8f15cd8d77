"""Every failure answers the error envelope `{"error": {"code", "message", "details"?}}`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from helpers import JSON, ROOT, MiB, assert_error, load_spec

from corral.testing.live_server import LiveServer

WORKSPACES = "/api/v1/workspaces"


def chunked(payload: bytes, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """A generator body: httpx sends it chunked, without Content-Length."""
    for start in range(0, len(payload), chunk):
        yield payload[start : start + chunk]


# -- 400 invalid_request --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5, "runtime": "default"}, "name"),
        ({"runtime": "default"}, "name"),
        ({"name": "demo", "runtime": "default", "executionPolicy": "cloud"}, "executionPolicy"),
    ],
    ids=["wrong-type", "missing-required", "bad-enum"],
)
def test_schema_violation_is_400_naming_the_field(
    shared_api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    error = assert_error(shared_api.post(WORKSPACES, json=body), 400, "invalid_request")
    assert field in error["message"]


@pytest.mark.parametrize(
    "raw",
    [b'{"name": "demo",', b"{'name': 'x'}", b'{"name": "\xff\xfe", "runtime": "default"}'],
    ids=["truncated", "single-quotes", "not-utf8"],
)
def test_undecodable_body_is_400(shared_api: httpx.Client, raw: bytes) -> None:
    assert_error(shared_api.post(WORKSPACES, content=raw, headers=JSON), 400, "invalid_request")


def test_json_null_body_is_400(shared_api: httpx.Client) -> None:
    error = assert_error(shared_api.post(WORKSPACES, content=b"null", headers=JSON), 400)
    assert error["code"] == "invalid_request"
    assert "null" in error["message"]


def test_missing_required_body_is_400(shared_api: httpx.Client) -> None:
    assert_error(shared_api.post(WORKSPACES, content=b"", headers=JSON), 400, "invalid_request")


def test_unknown_query_parameter_is_400(shared_api: httpx.Client) -> None:
    error = assert_error(
        shared_api.get(WORKSPACES, params={"colour": "red"}), 400, "invalid_request"
    )
    assert "colour" in error["message"]


@pytest.mark.parametrize("page_size", ["0", "201", "abc", "-1", "1.5"])
def test_bad_page_size_is_400(shared_api: httpx.Client, page_size: str) -> None:
    assert_error(shared_api.get(WORKSPACES, params={"pageSize": page_size}), 400, "invalid_request")


@pytest.mark.parametrize("page_size", ["1", "200"])
def test_page_size_bounds_are_accepted(shared_api: httpx.Client, page_size: str) -> None:
    assert shared_api.get(WORKSPACES, params={"pageSize": page_size}).status_code == 200


# -- 404 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nope", "/nope", "/api/v2/workspaces", "/api/v1/runs"])
def test_unknown_route_is_404_envelope(shared_api: httpx.Client, path: str) -> None:
    assert_error(shared_api.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("path", "code", "detail_key"),
    [
        ("/api/v1/workspaces/ws_missing", "workspace_not_found", "workspace"),
        ("/api/v1/workspaces/ws_missing/catalog", "workspace_not_found", "workspace"),
        ("/api/v1/workspaces/ws_missing/sessions", "workspace_not_found", "workspace"),
        ("/api/v1/sessions/ses_missing", "session_not_found", "session"),
        ("/api/v1/sessions/ses_missing/messages", "session_not_found", "session"),
        ("/api/v1/sessions/ses_missing/queue", "session_not_found", "session"),
        ("/api/v1/sessions/ses_missing/runs", "session_not_found", "session"),
        ("/api/v1/runs/run_missing", "run_not_found", "run"),
        ("/api/v1/runs/run_missing/steps", "run_not_found", "run"),
    ],
)
def test_unknown_id_is_404_with_its_code(
    shared_api: httpx.Client, path: str, code: str, detail_key: str
) -> None:
    error = assert_error(shared_api.get(path), 404, code)
    assert error["details"][detail_key].endswith("_missing")


def test_unknown_message_is_404_message_not_found(
    api: httpx.Client, session: dict[str, Any]
) -> None:
    resp = api.get(f"/api/v1/sessions/{session['id']}/messages/msg_missing")
    assert_error(resp, 404, "message_not_found")


# -- 405 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/v1/runs/requeue", "POST"),
        ("PATCH", "/api/v1/workspaces", "GET, POST, HEAD"),
        ("PUT", "/api/v1/sessions/ses_x", "GET, DELETE, PATCH, HEAD"),
        ("POST", "/api/v1/runs/run_x", "GET, HEAD"),
        ("GET", "/api/v1/runs/run_x/cancel", "POST"),
        ("GET", "/api/v1/runtimes/upload", "POST"),
        ("DELETE", "/api/v1/system/profile", "GET, HEAD"),
    ],
)
def test_wrong_method_is_405_with_documented_allow(
    shared_api: httpx.Client, method: str, path: str, allow: str
) -> None:
    resp = shared_api.request(method, path)
    assert_error(resp, 405, "method_not_allowed")
    assert set(resp.headers["allow"].split(", ")) == set(allow.split(", "))


def test_get_on_literal_requeue_path_is_405(shared_api: httpx.Client) -> None:
    resp = shared_api.get("/api/v1/runs/requeue")
    assert_error(resp, 405, "method_not_allowed")
    assert resp.headers["allow"] == "POST"


# -- 413 ------------------------------------------------------------------------------------


def test_body_over_default_limit_by_content_length_is_413(shared_api: httpx.Client) -> None:
    resp = shared_api.post(WORKSPACES, content=b"x" * (MiB + 1), headers=JSON)
    assert_error(resp, 413, "payload_too_large")


def test_body_at_default_limit_is_not_413(api: httpx.Client) -> None:
    padding = "a" * (MiB - 100)
    resp = api.post(WORKSPACES, json={"name": "demo", "runtime": "default", "externalRef": padding})
    assert resp.status_code != 413


def test_chunked_body_over_default_limit_is_413(shared_api: httpx.Client) -> None:
    resp = shared_api.post(WORKSPACES, content=chunked(b"x" * (2 * MiB)), headers=JSON)
    assert_error(resp, 413, "payload_too_large")


def test_small_chunked_json_body_is_accepted(api: httpx.Client) -> None:
    body = b'{"name": "chunked", "runtime": "default"}'
    resp = api.post(WORKSPACES, content=chunked(body, chunk=8), headers=JSON)
    assert resp.status_code == 201, resp.text


def test_two_mib_message_is_accepted(api: httpx.Client, session: dict[str, Any]) -> None:
    resp = api.post(f"/api/v1/sessions/{session['id']}/messages", json={"content": "a" * (2 * MiB)})
    assert resp.status_code == 202, resp.text


def test_message_over_sixteen_mib_is_413(api: httpx.Client, session: dict[str, Any]) -> None:
    resp = api.post(
        f"/api/v1/sessions/{session['id']}/messages",
        content=b"x" * (16 * MiB + 1),
        headers=JSON,
    )
    assert_error(resp, 413, "payload_too_large")


def test_two_mib_body_elsewhere_is_413(api: httpx.Client, session: dict[str, Any]) -> None:
    resp = api.patch(f"/api/v1/sessions/{session['id']}", json={"title": "t" * (2 * MiB)})
    assert_error(resp, 413, "payload_too_large")


# -- 415 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_415(shared_api: httpx.Client, content_type: str) -> None:
    resp = shared_api.post(
        WORKSPACES,
        content=b'{"name": "demo", "runtime": "default"}',
        headers={"content-type": content_type},
    )
    assert_error(resp, 415)


def test_wrong_content_type_uses_documented_code(shared_api: httpx.Client) -> None:
    resp = shared_api.post(WORKSPACES, content=b"{}", headers={"content-type": "text/plain"})
    error = assert_error(resp, 415)
    assert error["code"] in {"invalid_content_type", "invalid_upload_content_type"}


# -- 500 and 501 ----------------------------------------------------------------------------


def test_unexpected_exception_is_500_without_traceback(
    server: LiveServer, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret-internal-detail-4711")

    monkeypatch.setattr(server.core.services.meta, "get_system_profile", explode)
    resp = api.get("/api/v1/system/profile")
    assert_error(resp, 500, "internal_error")
    for leak in ("Traceback", "secret-internal-detail-4711", "RuntimeError", ".py"):
        assert leak not in resp.text


def test_failing_core_service_in_a_write_is_500(
    server: LiveServer, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("ws_secret")

    monkeypatch.setattr(server.core.services.workspaces, "create_workspace", explode)
    resp = api.post(WORKSPACES, json={"name": "demo", "runtime": "default"})
    assert_error(resp, 500, "internal_error")
    assert "ws_secret" not in resp.text


def pending_operations() -> list[tuple[str, str, str]]:
    """(method, path, operationId) of every pending operation without a request body, from
    codegen/pending_operations.txt (the list shrinks as operations are built)."""
    pending = {
        line.strip()
        for line in (ROOT / "codegen" / "pending_operations.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    found = []
    for template, item in load_spec()["paths"].items():
        for method, operation in item.items():
            if method == "parameters" or "requestBody" in operation:
                continue
            if operation["operationId"] in pending:
                path = re.sub(r"\{[^}]+\}", "x", template)
                found.append((method.upper(), path, operation["operationId"]))
    return found


@pytest.mark.parametrize(("method", "path", "operation"), pending_operations())
def test_pending_operation_is_501(
    shared_api: httpx.Client, method: str, path: str, operation: str
) -> None:
    error = assert_error(shared_api.request(method, path), 501, "not_implemented")
    assert error["details"] == {"operationId": operation}


# -- the docs assets mount ------------------------------------------------------------------


def test_unknown_docs_asset_is_404_envelope(shared_api: httpx.Client) -> None:
    assert_error(shared_api.get("/docs/assets/no-such-file.js"), 404, "not_found")
