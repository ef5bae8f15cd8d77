"""The index, the system profile, probes, metrics, the spec documents and the docs page."""

from __future__ import annotations

import re

import httpx
import pytest
import yaml
from helpers import load_spec


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


def test_healthz_reports_sqlite_up(shared_api: httpx.Client) -> None:
    resp = shared_api.get("/healthz")
    assert resp.status_code == 200
    report = resp.json()
    assert report["status"] == "ok"
    assert report["storage"] == {"primary": "sqlite", "events": "memory", "runQueue": "in_process"}
    assert report["checks"]["sqlite"] == "up"
    assert report["checks"]["postgres"] == "not_configured"
    assert report["process"] == {"mode": "api_embedded_worker"}  # no pid for anyone to target
    assert "provider" in report["sandbox"]


def test_readyz_is_ready(shared_api: httpx.Client) -> None:
    resp = shared_api.get("/readyz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ready", "checks": {"storage": "up"}}


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
