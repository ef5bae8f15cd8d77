"""The meta operations: index, profile, probes, metrics, the spec itself and its docs page."""

from __future__ import annotations

from functools import cached_property
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from prometheus_client import CollectorRegistry, generate_latest

from corral import __version__, models
from corral.core.caller import Caller
from corral.store import Store

DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8"><title>Corral API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
</script>
</body>
</html>
"""

ROUTE_GROUPS = [
    ("system", "/api/v1/system", "Deployment profile"),
    ("runtimes", "/api/v1/runtimes", "Workspace templates"),
    ("workspaces", "/api/v1/workspaces", "Workspaces, their catalog, sessions and actions"),
    ("sessions", "/api/v1/sessions", "Sessions, messages, queue, events and terminals"),
    ("runs", "/api/v1/runs", "Runs, steps, cancel, guide and requeue"),
    ("sandboxes", "/api/v1/sandboxes", "Workspace files and commands, E2B-style"),
    ("models", "/api/v1/model-providers", "Model providers and platform models"),
]


class MetaService:
    def __init__(
        self, store: Store, registry: CollectorRegistry, spec_path: Traversable, auth_enabled: bool
    ) -> None:
        self.store = store
        self.registry = registry
        self.spec_path = spec_path
        self.auth_enabled = auth_enabled

    @cached_property
    def _spec_text(self) -> str:
        return self.spec_path.read_text()

    @cached_property
    def _spec_document(self) -> dict[str, Any]:
        document: dict[str, Any] = yaml.safe_load(self._spec_text)
        return document

    async def get_api_index(self, caller: Caller) -> models.ApiIndex:
        mode = "bearer" if self.auth_enabled else "none"
        description = (
            "Send `Authorization: Bearer <token>` on every /api/v1 route except this index "
            "and /api/v1/system/profile."
            if self.auth_enabled
            else "Standalone mode: no token needed; every caller may use every workspace."
        )
        return models.ApiIndex.model_validate(
            {
                "name": "Corral",
                "product": "corral",
                "version": __version__,
                "links": {
                    "docs": "/docs",
                    "openapiJson": "/openapi.json",
                    "openapiYaml": "/openapi.yaml",
                    "profile": "/api/v1/system/profile",
                },
                "probes": {"health": "/healthz", "readiness": "/readyz", "metrics": "/metrics"},
                "auth": {"mode": mode, "description": description},
                "routeGroups": [
                    {"name": n, "basePath": p, "description": d} for n, p, d in ROUTE_GROUPS
                ],
            }
        )

    async def get_system_profile(self, caller: Caller) -> models.SystemProfile:
        return models.SystemProfile.model_validate(
            {
                "edition": "enterprise",
                "runtimeMode": "embedded",
                "deploymentKind": "oah",
                "displayName": "Corral",
                "capabilities": {
                    "localDaemonControl": False,
                    "localWorkspacePaths": True,
                    "workspaceRegistration": False,
                    "storageInspection": False,
                    "modelManagement": False,
                    "localDaemonSupervisor": False,
                },
            }
        )

    async def get_health(self, caller: Caller) -> models.HealthReport:
        store_up = await self.store.ping()
        return models.HealthReport.model_validate(
            {
                "status": "ok" if store_up else "degraded",
                "storage": {
                    "primary": self.store.kind,
                    "events": "memory",
                    "runQueue": "in_process",
                },
                # No pid: a probe is open to anyone, and a pid is a target (/proc/<pid>/environ).
                "process": {"mode": "api_embedded_worker"},
                "sandbox": {"provider": "embedded"},
                "checks": {
                    "postgres": "up"
                    if self.store.kind == "postgres" and store_up
                    else "not_configured",
                    "redisEvents": "not_configured",
                    "redisRunQueue": "not_configured",
                    "sqlite": ("up" if store_up else "down")
                    if self.store.kind == "sqlite"
                    else "not_configured",
                },
            }
        )

    async def get_readiness(self, caller: Caller) -> tuple[int, models.ReadinessReport]:
        store_up = await self.store.ping()
        report = models.ReadinessReport.model_validate(
            {
                "status": "ready" if store_up else "not_ready",
                "checks": {"storage": "up" if store_up else "down"},
                **({} if store_up else {"reason": "checks_down"}),
            }
        )
        return (200 if store_up else 503), report

    async def get_metrics(self, caller: Caller) -> str:
        return generate_latest(self.registry).decode()

    async def get_openapi_yaml(self, caller: Caller) -> str:
        return self._spec_text

    async def get_openapi_json(self, caller: Caller) -> dict[str, Any]:
        return self._spec_document

    async def get_docs(self, caller: Caller) -> str:
        return DOCS_PAGE
