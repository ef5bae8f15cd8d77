"""Who may call: standalone mode, bearer tokens, workspace-limited tokens, loopback-only
internal routes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from helpers import (
    assert_error,
    create_session,
    create_workspace,
    send,
)

import corral.core.services.workspaces
from corral.app import build_app
from corral.config import Settings
from corral.testing.live_server import LiveServer, live_server
from corral.testing.waiting import wait_for_run

ADMIN = "admin-token-0001"
LIMITED = "limited-token-0001"
WS_A = "ws_" + "a" * 32  # reachable by LIMITED
WS_B = "ws_" + "b" * 32  # not reachable by LIMITED
TOKENS = [{"token": ADMIN, "subject": "admin"}, {"token": LIMITED, "workspaces": [WS_A]}]

# Every kind of /api/v1 route: collections, items, writes, pending and unknown ones.
GUARDED = [
    ("GET", "/api/v1/workspaces"),
    ("POST", "/api/v1/workspaces"),
    ("GET", "/api/v1/workspaces/ws_x/catalog"),
    ("GET", "/api/v1/runtimes"),
    ("POST", "/api/v1/runtimes/upload?name=x"),
    ("GET", "/api/v1/sessions/ses_x"),
    ("POST", "/api/v1/sessions/ses_x/messages"),
    ("GET", "/api/v1/runs/run_x"),
    ("POST", "/api/v1/runs/requeue"),
    ("GET", "/api/v1/model-providers"),
    ("GET", "/api/v1/sandboxes/ws_x"),
    ("GET", "/api/v1/no-such-route"),
]
MALFORMED = [f"Basic {ADMIN}", ADMIN, "Bearer", f"Bearer {ADMIN}x", b"Bearer \xff\xfe"]
FAILING = [{"error": {"message": "the model is down"}}]  # the scripted model's turn
OPEN = ["/api/v1", "/api/v1/system/profile"]
PROBES = ["/healthz", "/readyz", "/metrics", "/openapi.json", "/openapi.yaml", "/docs"]


@pytest.fixture(scope="module")
def bearer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("bearer"),
        validate_responses=True,
        api_tokens=TOKENS,
        run_worker=False,  # runs stay where the queue put them (tests/conftest.py)
        sandbox_isolation="none",  # a limited token wants bwrap, else none on purpose
    )
    with live_server(settings) as live:
        yield live


# -- standalone -----------------------------------------------------------------------------


def test_standalone_mode_needs_no_token(api: httpx.Client) -> None:
    assert api.get("/api/v1").json()["auth"]["mode"] == "none"
    ws = create_workspace(api)
    assert api.get(f"/api/v1/workspaces/{ws['id']}").status_code == 200
    session = create_session(api, ws["id"])
    assert session["subjectRef"] == "standalone:anonymous"


def test_standalone_mode_ignores_a_bearer_token(server: LiveServer) -> None:
    with server.client("whatever-token") as api:
        assert api.get("/api/v1/workspaces").status_code == 200


# -- bearer tokens --------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), GUARDED)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-0001"])
def test_guarded_route_is_401_without_a_valid_token(
    bearer: LiveServer, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with bearer.client() as anonymous:
        resp = anonymous.request(method, path, headers=headers)
    assert_error(resp, 401, "unauthorized")
    assert resp.headers["www-authenticate"].startswith("Bearer")


def test_malformed_authorization_is_401(bearer: LiveServer) -> None:
    with bearer.client() as anonymous:
        for authorization in (
            f"Basic {ADMIN}",
            ADMIN,
            "Bearer",
            f"Bearer {ADMIN}x",
            b"Bearer \xff\xfe",
        ):
            resp = anonymous.get("/api/v1/workspaces", headers={"Authorization": authorization})
            assert_error(resp, 401, "unauthorized")


def test_right_token_is_let_through(bearer: LiveServer) -> None:
    with bearer.client(ADMIN) as admin:
        assert admin.get("/api/v1/workspaces").status_code == 200
        assert admin.get("/api/v1/runtimes").status_code == 200
        assert_error(admin.get("/api/v1/sessions/ses_x"), 404, "session_not_found")
        assert_error(admin.get("/api/v1/no-such-route"), 404, "not_found")
        assert admin.get("/api/v1/model-providers").status_code == 200


def test_scheme_is_case_insensitive(bearer: LiveServer) -> None:
    with bearer.client() as anonymous:
        resp = anonymous.get("/api/v1/workspaces", headers={"Authorization": f"bearer {ADMIN}"})
    assert resp.status_code == 200


@pytest.mark.parametrize("path", OPEN)
def test_index_and_profile_need_no_token(bearer: LiveServer, path: str) -> None:
    with bearer.client() as anonymous:
        assert anonymous.get(path).status_code == 200


def test_index_announces_bearer_mode(bearer: LiveServer) -> None:
    with bearer.client() as anonymous:
        auth = anonymous.get("/api/v1").json()["auth"]
    assert auth["mode"] == "bearer"
    assert "Bearer" in auth["description"]


@pytest.mark.parametrize("path", PROBES)
def test_probes_and_documents_never_need_a_token(bearer: LiveServer, path: str) -> None:
    with bearer.client() as anonymous:
        assert anonymous.get(path).status_code == 200


def test_token_subject_becomes_the_subject_ref(bearer: LiveServer) -> None:
    with bearer.client(ADMIN) as admin:
        ws = create_workspace(admin, "subject")
        assert create_session(admin, ws["id"])["subjectRef"] == "token:admin"


# -- workspace-limited tokens ---------------------------------------------------------------


@dataclass
class Tenancy:
    """Workspace A (reachable by the limited token) and B (not), each with a session and a
    run, created by the admin token."""

    server: LiveServer
    session_a: str
    session_b: str
    message_b: str
    run_b: str


@pytest.fixture(scope="module")
def tenancy(bearer: LiveServer) -> Iterator[Tenancy]:
    ids = iter([WS_A, WS_B])
    with pytest.MonkeyPatch.context() as patch, bearer.client(ADMIN) as admin:
        patch.setattr(corral.core.services.workspaces, "new_id", lambda prefix: next(ids))
        assert create_workspace(admin, "a")["id"] == WS_A
        assert create_workspace(admin, "b")["id"] == WS_B
    with bearer.client(ADMIN) as admin:
        session_a = create_session(admin, WS_A)["id"]
        session_b = create_session(admin, WS_B)["id"]
        sent = send(admin, session_b, "private to b")
        yield Tenancy(bearer, session_a, session_b, sent["messageId"], sent["runId"])


def denied_requests(t: Tenancy) -> list[tuple[str, str, Any]]:
    s, m, r = t.session_b, t.message_b, t.run_b
    return [
        ("GET", f"/api/v1/workspaces/{WS_B}", None),
        ("GET", f"/api/v1/workspaces/{WS_B}/catalog", None),
        ("GET", f"/api/v1/workspaces/{WS_B}/sessions", None),
        ("POST", f"/api/v1/workspaces/{WS_B}/sessions", {"title": "intrusion"}),
        ("GET", f"/api/v1/sessions/{s}", None),
        ("PATCH", f"/api/v1/sessions/{s}", {"title": "renamed"}),
        ("GET", f"/api/v1/sessions/{s}/children", None),
        ("GET", f"/api/v1/sessions/{s}/runs", None),
        ("GET", f"/api/v1/sessions/{s}/queue", None),
        ("GET", f"/api/v1/sessions/{s}/messages", None),
        ("POST", f"/api/v1/sessions/{s}/messages", {"content": "intrusion"}),
        ("GET", f"/api/v1/sessions/{s}/messages/{m}", None),
        ("GET", f"/api/v1/sessions/{s}/messages/{m}/context", None),
        ("GET", f"/api/v1/runs/{r}", None),
        ("GET", f"/api/v1/runs/{r}/steps", None),
        ("POST", f"/api/v1/runs/{r}/cancel", None),
        ("POST", f"/api/v1/runs/{r}/guide", None),
        ("POST", f"/api/v1/runs/{r}/requeue", None),
        ("DELETE", f"/api/v1/sessions/{s}", None),
        ("DELETE", f"/api/v1/workspaces/{WS_B}", None),
    ]


def test_limited_token_is_denied_everything_of_another_workspace(tenancy: Tenancy) -> None:
    with tenancy.server.client(LIMITED) as limited:
        for method, path, body in denied_requests(tenancy):
            resp = limited.request(method, path, json=body)
            error = assert_error(resp, 403, "workspace_access_denied")
            assert error["details"] == {"workspaceId": WS_B}, (method, path)
    with tenancy.server.client(ADMIN) as admin:  # nothing was changed on the way
        assert admin.get(f"/api/v1/sessions/{tenancy.session_b}").json().get("title") is None
        assert admin.get(f"/api/v1/runs/{tenancy.run_b}").json()["status"] == "queued"
        assert len(admin.get(f"/api/v1/workspaces/{WS_B}/sessions").json()["items"]) == 1


def test_limited_token_lists_only_its_workspaces(tenancy: Tenancy) -> None:
    with tenancy.server.client(LIMITED) as limited:
        items = limited.get("/api/v1/workspaces").json()["items"]
    assert [w["id"] for w in items] == [WS_A]


def test_limited_token_works_inside_its_workspace(tenancy: Tenancy) -> None:
    with tenancy.server.client(LIMITED) as limited:
        assert limited.get(f"/api/v1/workspaces/{WS_A}").status_code == 200
        assert limited.get(f"/api/v1/workspaces/{WS_A}/catalog").status_code == 200
        sent = send(limited, tenancy.session_a, "allowed")
        assert limited.get(f"/api/v1/runs/{sent['runId']}").status_code == 200
        assert limited.post(f"/api/v1/runs/{sent['runId']}/cancel").status_code == 202


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/workspaces", {"name": "more", "runtime": "default"}),
        ("/api/v1/workspaces/import", {"rootPath": "/tmp"}),
    ],
)
def test_limited_token_cannot_add_workspaces(tenancy: Tenancy, path: str, body: dict) -> None:
    with tenancy.server.client(LIMITED) as limited:
        assert_error(limited.post(path, json=body), 403, "workspace_access_denied")


def test_batch_requeue_reports_denied_runs_per_item(
    start_server: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = iter([WS_A, WS_B])
    monkeypatch.setattr(corral.core.services.workspaces, "new_id", lambda prefix: next(ids))
    server = start_server(api_tokens=TOKENS, run_worker=True, sandbox_isolation="none")
    with server.client(ADMIN) as admin, server.client(LIMITED) as limited:
        runs = {}
        for ws in (create_workspace(admin, "a"), create_workspace(admin, "b")):
            session_id = create_session(admin, ws["id"])["id"]
            runs[ws["id"]] = send(admin, session_id, metadata={"script": FAILING})["runId"]
            assert wait_for_run(admin, runs[ws["id"]])["status"] == "failed"
        resp = limited.post("/api/v1/runs/requeue", json={"runIds": [runs[WS_A], runs[WS_B]]})
        assert resp.status_code == 200, resp.text
        first, second = resp.json()["items"]
        assert first["runId"] == runs[WS_A] and first["status"] == "queued"
        assert second["runId"] == runs[WS_B] and second["status"] == "error"
        assert second["errorCode"] == "workspace_access_denied"
        assert admin.get(f"/api/v1/runs/{runs[WS_B]}").json()["status"] == "failed"


# -- internal routes ------------------------------------------------------------------------


def call_app_from(host: str, tmp_path: Any, path: str) -> httpx.Response:
    """Call the ASGI app in process as a client at `host`. The loopback check comes before
    anything that needs the lifespan, so no server has to run."""
    app, _ = build_app(Settings(data_dir=tmp_path / "asgi"))

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(host, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://corral.test") as c:
            return await c.post(path, json={"prompt": "hi"})

    return asyncio.run(call())


@pytest.mark.parametrize("path", ["/internal/v1/models/generate", "/internal/v1/models/stream"])
@pytest.mark.parametrize("host", ["10.1.2.3", "192.168.0.7", "2001:db8::1"])
def test_internal_routes_refuse_non_loopback_callers(tmp_path: Any, host: str, path: str) -> None:
    assert_error(call_app_from(host, tmp_path, path), 403, "forbidden")


INTERNAL = "internal-token-0123456789"


@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 401), ("wrong-token-0123456789", 401), (LIMITED, 401), (INTERNAL, 200), (ADMIN, 200)],
)
def test_internal_routes_want_the_internal_token_or_a_token_for_every_workspace(
    start_server: Callable[..., LiveServer], token: str | None, status: int
) -> None:
    """A loopback address is not enough: sandboxed commands and same-host proxies have one."""
    live = start_server(api_tokens=TOKENS, internal_token=INTERNAL, sandbox_isolation="none")
    with live.client(token) as caller:
        resp = caller.post("/internal/v1/models/generate", json={"prompt": "hi"})
    if status == 200:
        assert resp.status_code == 200, resp.text
        assert "hi" in resp.json()["text"]
    else:
        assert_error(resp, 401, "unauthorized")


def test_standalone_internal_routes_want_the_process_token(server: LiveServer) -> None:
    """Without `internal_token` the secret is random: only what is handed it gets through."""
    with server.client() as anonymous:
        assert_error(
            anonymous.post("/internal/v1/models/generate", json={"prompt": "hi"}),
            401,
            "unauthorized",
        )
    with server.client(server.core.internal_token) as trusted:
        resp = trusted.post("/internal/v1/models/generate", json={"prompt": "hi"})
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize(("trusted", "status"), [([], 200), (["127.0.0.0/8"], 403)])
def test_x_forwarded_for_is_believed_from_trusted_proxies_only(
    start_server: Callable[..., LiveServer], trusted: list[str], status: int
) -> None:
    """A loopback caller claiming to forward a remote one is the loopback caller, unless the
    operator said it is a proxy: then the remote address is the client (and /internal refuses)."""
    # The proxy is what this checks, not confinement: unconfined, it starts without bwrap too.
    server = start_server(trusted_proxies=trusted, sandbox_isolation="none")
    with server.client(server.core.internal_token) as caller:
        resp = caller.post(
            "/internal/v1/models/generate",
            json={"prompt": "hi"},
            headers={"X-Forwarded-For": "10.1.2.3"},
        )
    if status == 403:
        assert_error(resp, 403, "forbidden")
    else:
        assert resp.status_code == 200, resp.text
