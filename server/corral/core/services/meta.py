"""The meta operations: index, profile, probes, metrics, the spec itself and its docs page.

The probes report what OAH's web UI parses strictly (its HealthReport and ReadinessReport),
filled truthfully: an API process that only queues runs (`run_worker: false`) says so. Corral
keeps no worker registry, so the workers listed are this process's own (when it executes runs)
and those whose runs execute now, as their heartbeats show them. Under `corral serve --workers N`
each process has its own worker and answers for itself. With Redis configured, its checks say
whether this process's link is up (bus/redis_link.py); a process stays ready while it is down,
since it polls the database meanwhile, but its health is `degraded`. The probes are open to
anyone: they name no pid, host, run, session or workspace.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from prometheus_client import CollectorRegistry, generate_latest

from corral import __version__, clock, models
from corral.bus.redis_link import RedisLink
from corral.caller import Caller
from corral.core.runs.executor import RunExecutor
from corral.core.runs.lifecycle import EXECUTING
from corral.store import RunRecord, Store, Tx

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

# A probe reads at most this many executing runs to find the workers executing them.
EXECUTING_RUNS_READ = 1000
PROCESS_KINDS = ("embedded", "standalone")


class MetaService:
    def __init__(
        self,
        store: Store,
        registry: CollectorRegistry,
        spec_path: Traversable,
        auth_enabled: bool,
        workers: RunExecutor,
        redis: RedisLink | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.spec_path = spec_path
        self.auth_enabled = auth_enabled
        self.workers = workers
        self.redis = redis

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
        executing = await self.store.read(_executing_runs) if store_up else []
        inline = self.workers.executes_runs
        checks = self._checks(store_up)
        redis = "redis" if self.redis is not None else None
        return models.HealthReport.model_validate(
            {
                "status": "ok" if "down" not in checks.values() else "degraded",
                "storage": {
                    "primary": self.store.kind,
                    "events": redis or "memory",
                    "runQueue": redis or "in_process",
                },
                # No pid: a probe is open to anyone, and a pid is a target (/proc/<pid>/environ).
                "process": {
                    "mode": "api_embedded_worker" if inline else "api_only",
                    "label": "API + embedded worker" if inline else "API only",
                    "execution": "local_inline" if inline else "none",
                },
                "sandbox": {
                    "provider": "embedded",
                    "executionModel": "local_embedded",
                    "workerPlacement": "api_process",
                },
                "checks": checks,
                "worker": self._worker_report(executing),
            }
        )

    async def get_readiness(self, caller: Caller) -> tuple[int, models.ReadinessReport]:
        store_up = await self.store.ping()
        report = models.ReadinessReport.model_validate(
            {
                "status": "ready" if store_up else "not_ready",
                "draining": False,
                "checks": self._checks(store_up),
                **({} if store_up else {"reason": "checks_down"}),
            }
        )
        return (200 if store_up else 503), report

    def _checks(self, store_up: bool) -> dict[str, str]:
        store = "up" if store_up else "down"
        redis = self.redis
        return {
            "postgres": store if self.store.kind == "postgres" else "not_configured",
            "redisEvents": _status(redis.events_up) if redis else "not_configured",
            "redisRunQueue": _status(redis.run_queue_up) if redis else "not_configured",
            "sqlite": store if self.store.kind == "sqlite" else "not_configured",
        }

    def _worker_report(self, executing: list[RunRecord]) -> dict[str, Any]:
        workers = self.workers
        own_id: str = workers.worker["id"]
        inline = workers.executes_runs
        taken = workers.slots_taken() if inline else 0
        slot_count = workers.settings.concurrency if inline else 0
        slots = [
            {
                "slotId": f"{own_id}/{number}",
                "workerId": own_id,
                "processKind": workers.settings.process_kind,
                "state": "busy" if number <= taken else "idle",
            }
            for number in range(1, slot_count + 1)
        ]
        leases = self._leases(executing, own_id if inline else None, taken)
        return {
            "mode": "embedded" if inline else "disabled",
            "draining": False,
            "acceptsNewRuns": True,
            "sessionSerialBoundary": "session",
            "localSlots": slots,
            "activeWorkers": leases,
            "summary": {
                "active": len(leases),
                "healthy": sum(lease["health"] == "healthy" for lease in leases),
                "late": sum(lease["health"] == "late" for lease in leases),
                "busy": sum(lease["state"] == "busy" for lease in leases),
                "embedded": sum(lease["processKind"] == "embedded" for lease in leases),
                "standalone": sum(lease["processKind"] == "standalone" for lease in leases),
            },
            "pool": None,
        }

    def _leases(
        self, executing: list[RunRecord], own_id: str | None, taken: int
    ) -> list[dict[str, Any]]:
        """This process's worker (seen now), then every other worker executing a run, seen at
        its latest heartbeat; a worker silent for `run_stale_seconds` is gone (its runs are
        about to be recovered)."""
        settings, now = self.workers.settings, clock.now()
        ttl = timedelta(seconds=settings.stale_s)
        late_after = timedelta(seconds=2 * settings.heartbeat_s)  # a heartbeat missed

        def lease(worker_id: str, kind: str, state: str, seen: datetime) -> dict[str, Any]:
            age = max(now - seen, timedelta(0))
            return {
                "workerId": worker_id,
                "processKind": kind,
                "state": state,
                "lastSeenAt": seen,
                "leaseTtlMs": _ms(ttl),
                "expiresAt": seen + ttl,
                "lastSeenAgeMs": _ms(age),
                "health": "late" if age > late_after else "healthy",
            }

        seen: dict[str, tuple[str, datetime]] = {}
        for run in executing:
            worker = (run.metadata or {}).get("worker")
            beat = run.heartbeat_at or run.started_at
            if not isinstance(worker, dict) or not isinstance(worker.get("id"), str) or not beat:
                continue
            kind = str(worker.get("kind")) if worker.get("kind") in PROCESS_KINDS else "embedded"
            if worker["id"] not in seen or beat > seen[worker["id"]][1]:
                seen[worker["id"]] = (kind, beat)
        leases = []
        if own_id is not None:
            seen.pop(own_id, None)
            state = "busy" if taken else "idle"
            leases.append(lease(own_id, self.workers.settings.process_kind, state, now))
        others = ((wid, kind, beat) for wid, (kind, beat) in seen.items() if now - beat <= ttl)
        leases += [lease(wid, kind, "busy", beat) for wid, kind, beat in others]
        return leases

    async def get_metrics(self, caller: Caller) -> str:
        return generate_latest(self.registry).decode()

    async def get_openapi_yaml(self, caller: Caller) -> str:
        return self._spec_text

    async def get_openapi_json(self, caller: Caller) -> dict[str, Any]:
        return self._spec_document

    async def get_docs(self, caller: Caller) -> str:
        return DOCS_PAGE


def _executing_runs(tx: Tx) -> list[RunRecord]:
    return tx.runs_by_status(EXECUTING, EXECUTING_RUNS_READ)


def _status(up: bool) -> str:
    return "up" if up else "down"


def _ms(span: timedelta) -> int:
    return int(span / timedelta(milliseconds=1))
