"""The index, the system profile, probes, metrics, the spec documents and the docs page."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from helpers import create_session, create_workspace, load_spec, run_status, send

from corral.testing.live_server import LiveServer
from corral.testing.postgres import server_database_kind
from corral.testing.waiting import wait_for


def spec_paths() -> set[str]:
    return set(load_spec()["paths"])


def test_api_index(shared_api: httpx.Client) -> None:
    resp = shared_api.get("/api/v1")
    assert resp.status_code == 200
    index = resp.json()
    assert index["name"] == "Corral"
    assert index["links"] == {
        "docs": "/docs",
        "openapiJson": "/openapi.json",
        "openapiYaml": "/openapi.yaml",
        "profile": "/api/v1/system/profile",
    }
    assert index["probes"] == {"health": "/healthz", "readiness": "/readyz", "metrics": "/metrics"}
    assert index["auth"]["mode"] == "none"
    groups = {g["name"]: g["basePath"] for g in index["routeGroups"]}
    assert groups["workspaces"] == "/api/v1/workspaces"
    assert groups["sessions"] == "/api/v1/sessions"
    assert groups["runs"] == "/api/v1/runs"


def test_system_profile(shared_api: httpx.Client) -> None:
    profile = shared_api.get("/api/v1/system/profile").json()
    assert profile["apiCompatibility"] == "oah/v1"
    assert profile["product"] == "open-agent-harness"
    assert profile["deploymentKind"] in {"oah", "oap"}
    assert profile["edition"] in {"enterprise", "personal"}
    assert set(profile["capabilities"]) == {
        "localDaemonControl",
        "localWorkspacePaths",
        "workspaceRegistration",
        "storageInspection",
        "modelManagement",
        "localDaemonSupervisor",
    }
    assert all(isinstance(v, bool) for v in profile["capabilities"].values())


STORE = server_database_kind()  # sqlite, or postgres with CORRAL_TEST_DATABASE=postgres
CHECKS = {
    "postgres": "not_configured",
    "redisEvents": "not_configured",
    "redisRunQueue": "not_configured",
    "sqlite": "not_configured",
    STORE: "up",
}
NO_WORKERS = {"active": 0, "healthy": 0, "late": 0, "busy": 0, "embedded": 0, "standalone": 0}
# OAH's web UI parses the probes strictly: each of these keys must be there.
HEALTH_KEYS = {"status", "storage", "process", "sandbox", "checks", "worker"}
WORKER_KEYS = {
    "mode",
    "draining",
    "acceptsNewRuns",
    "sessionSerialBoundary",
    "localSlots",
    "activeWorkers",
    "summary",
    "pool",
}


def test_an_api_only_server_says_it_executes_no_runs(shared_api: httpx.Client) -> None:
    resp = shared_api.get("/healthz")  # the shared server runs with run_worker: false
    assert resp.status_code == 200
    report = resp.json()
    assert set(report) == HEALTH_KEYS
    assert report["status"] == "ok"
    assert report["storage"] == {"primary": STORE, "events": "memory", "runQueue": "in_process"}
    assert report["checks"] == CHECKS
    # No pid, nor anything else that names the process, for anyone to target.
    assert report["process"] == {"mode": "api_only", "label": "API only", "execution": "none"}
    assert report["sandbox"] == {
        "provider": "embedded",
        "executionModel": "local_embedded",
        "workerPlacement": "api_process",
    }
    assert report["worker"] == {
        "mode": "disabled",
        "draining": False,
        "acceptsNewRuns": True,
        "sessionSerialBoundary": "session",
        "localSlots": [],
        "activeWorkers": [],
        "summary": NO_WORKERS,
        "pool": None,
    }


def test_readyz_is_ready_with_the_checks_oah_clients_read(shared_api: httpx.Client) -> None:
    resp = shared_api.get("/readyz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ready", "draining": False, "checks": CHECKS}


def _worker(api: httpx.Client) -> dict[str, Any]:
    resp = api.get("/healthz")
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert set(report) == HEALTH_KEYS and set(report["worker"]) == WORKER_KEYS
    return dict(report["worker"])


def _states(worker: dict[str, Any]) -> tuple[list[str], list[str], dict[str, int]]:
    slots = [slot["state"] for slot in worker["localSlots"]]
    return slots, [lease["state"] for lease in worker["activeWorkers"]], worker["summary"]


def _long_run(api: httpx.Client) -> str:
    """A run that stays running until cancelled (its model answers after ten minutes)."""
    ses = create_session(api, create_workspace(api)["id"])
    sent = send(api, ses["id"], "wait", metadata={"script": [{"text": "late", "delayMs": 600_000}]})
    wait_for(lambda: run_status(api, sent["runId"]) == "running", what="the run to start")
    return str(sent["runId"])


def test_an_embedded_worker_reports_its_slots_and_its_lease(
    start_server: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):  # the scripted model answers
        monkeypatch.delenv(key, raising=False)
    server = start_server(run_worker=True, run_concurrency=2, sandbox_isolation="none")
    worker_id = server.core.executor.worker["id"]
    with server.client() as api:
        assert api.get("/healthz").json()["process"] == {
            "mode": "api_embedded_worker",
            "label": "API + embedded worker",
            "execution": "local_inline",
        }
        idle = _worker(api)
        assert idle["mode"] == "embedded" and idle["pool"] is None
        slots = [(s["workerId"], s["processKind"], s["state"]) for s in idle["localSlots"]]
        assert slots == [(worker_id, "embedded", "idle")] * 2
        assert len({s["slotId"] for s in idle["localSlots"]}) == 2
        (lease,) = idle["activeWorkers"]
        assert lease["workerId"] == worker_id
        assert (lease["processKind"], lease["state"], lease["health"]) == (
            "embedded",
            "idle",
            "healthy",
        )
        assert lease["leaseTtlMs"] == server.settings.run_stale_seconds * 1000
        assert idle["summary"] == {**NO_WORKERS, "active": 1, "healthy": 1, "embedded": 1}

        run_id = _long_run(api)
        busy = _worker(api)
        assert [s["state"] for s in busy["localSlots"]] == ["busy", "idle"]
        assert [w["state"] for w in busy["activeWorkers"]] == ["busy"]
        assert busy["summary"]["busy"] == 1
        assert run_id not in json.dumps(busy)  # an open probe names no run

        assert api.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
        wait_for(lambda: _states(_worker(api)) == _states(idle), what="the slot to be free")


def test_an_api_only_server_sees_the_workers_executing_its_runs(
    start_server: Callable[..., LiveServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    shared = tmp_path / "shared"
    api_server = start_server(data_dir=shared, run_worker=False)
    worker = start_server(data_dir=shared, run_worker=True, sandbox_isolation="none")
    with api_server.client() as api:
        assert _worker(api)["activeWorkers"] == []  # no registry: an idle worker is unseen
        run_id = _long_run(api)
        seen = _worker(api)
        assert seen["mode"] == "disabled" and seen["localSlots"] == []
        (lease,) = seen["activeWorkers"]
        assert lease["workerId"] == worker.core.executor.worker["id"]
        assert (lease["processKind"], lease["state"], lease["health"]) == (
            "embedded",
            "busy",
            "healthy",
        )
        busy = {"active": 1, "healthy": 1, "busy": 1, "embedded": 1}
        assert seen["summary"] == {**NO_WORKERS, **busy}
        assert api.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
        wait_for(lambda: _worker(api)["activeWorkers"] == [], what="the run to end")


def test_metrics_count_requests_by_operation(api: httpx.Client) -> None:
    assert api.get("/api/v1/sessions/ses_missing").status_code == 404
    assert api.get("/api/v1/nope").status_code == 404
    resp = api.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    assert "# TYPE corral_http_requests_total counter" in text
    # The label is the handler's name (snake_case), not the camelCase operationId.
    assert re.search(
        r'^corral_http_requests_total\{method="GET",operation="get_session",status="404"\} 1\.0$',
        text,
        re.M,
    ), text
    assert 'operation="unmatched",status="404"' in text
    assert "corral_http_request_duration_seconds_bucket" in text


def test_openapi_json_is_the_contract(shared_api: httpx.Client) -> None:
    resp = shared_api.get("/openapi.json")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    document = resp.json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == spec_paths()


def test_openapi_yaml_is_the_contract(shared_api: httpx.Client) -> None:
    resp = shared_api.get("/openapi.yaml")
    assert resp.status_code == 200
    assert "yaml" in resp.headers["content-type"]
    document = yaml.safe_load(resp.text)
    assert str(document["openapi"]).startswith("3.1")
    assert set(document["paths"]) == spec_paths()


def test_docs_page_uses_local_assets(shared_api: httpx.Client) -> None:
    resp = shared_api.get("/docs")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    page = resp.text
    assert 'src="/docs/assets/swagger-ui-bundle.js"' in page
    assert "/openapi.json" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "the page loads from a CDN"


@pytest.mark.parametrize(
    ("asset", "media_type"),
    [("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "text/css")],
)
def test_docs_assets_are_served(shared_api: httpx.Client, asset: str, media_type: str) -> None:
    resp = shared_api.get(f"/docs/assets/{asset}")
    assert resp.status_code == 200
    assert media_type in resp.headers["content-type"]
    assert len(resp.content) > 10_000


def test_model_providers_are_listed(shared_api: httpx.Client) -> None:
    items = shared_api.get("/api/v1/model-providers").json()["items"]
    assert {"openai", "openai-compatible"} <= {p["id"] for p in items}


def test_head_of_a_get_route(shared_api: httpx.Client) -> None:
    resp = shared_api.head("/api/v1/workspaces")
    assert resp.status_code == 200
    assert resp.content == b""
