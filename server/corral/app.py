"""Build the ASGI application: Connexion routes the spec to the generated handlers, wrapped in
a lean edge (access log and metrics, body limits, auth, docs assets) that runs before any
routing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import yaml
from connexion import AsyncApp
from connexion.middleware import ConnexionMiddleware
from connexion.middleware.request_validation import RequestValidationMiddleware
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.security import SecurityMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.resolver import Resolver
from starlette.types import ASGIApp

from corral.caller import Caller
from corral.config import Settings
from corral.core.container import Core
from corral.http import connexion_speedups, oas31
from corral.http.access_log import RequestMetrics
from corral.http.allow import AllowIndex
from corral.http.auth import Auth
from corral.http.edge import Edge
from corral.http.errors import install_error_handlers
from corral.http.fast_routing import FastRouting
from corral.http.limits import BodyLimit
from corral.http.request_validation import CachedRequestValidation
from corral.http.uri_parser import URIParser

# Shipped inside the package, so an installed wheel serves it; in a checkout it is a symlink to
# the repository's openapi.yaml, the copy humans edit and codegen reads.
SPEC = resources.files("corral") / "openapi.yaml"
connexion_speedups.install()
VALIDATORS = {**oas31.VALIDATORS, "parameter": connexion_speedups.Parameters}


class TagResolver(Resolver):  # type: ignore[misc]
    """operationId `getSession` with tag `sessions` -> corral.api.sessions.get_session."""

    def resolve_operation_id(self, operation: Any) -> str:
        tag = operation._operation["tags"][0]
        func = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", operation.operation_id).lower()
        module = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", tag).lower()
        return f"corral.api.{module}.{func}"


def connexion_middlewares(validate_responses: bool) -> list[Any]:
    # Auth runs at the edge; spec and docs are operations of the spec itself.
    dropped: set[Any] = {SwaggerUIMiddleware, SecurityMiddleware}
    if not validate_responses:
        dropped.add(ResponseValidationMiddleware)
    leaner = {RoutingMiddleware: FastRouting, RequestValidationMiddleware: CachedRequestValidation}
    return [leaner.get(m, m) for m in ConnexionMiddleware.default_middlewares if m not in dropped]


def _tokens(settings: Settings) -> dict[str, Caller]:
    return {
        t.token: Caller(
            subject_ref=f"token:{t.subject}",
            auth_source="token",
            workspace_access=None if t.workspaces is None else frozenset(t.workspaces),
        )
        for t in settings.api_tokens
    }


def create_app(settings: Settings | None = None) -> ASGIApp:
    """The ASGI app uvicorn serves (`uvicorn --factory corral.app:create_app`)."""
    return build_app(settings or Settings())[0]


def connexion_app(
    middlewares: list[Any], validate_responses: bool, lifespan: Any = None
) -> AsyncApp:
    """The spec served by Connexion through `middlewares`, its failures in the error envelope:
    what `build_app` puts behind the edge (tests/api/test_routing.py builds it with Connexion's
    own routing to compare)."""
    spec = yaml.safe_load(SPEC.read_text())
    app = AsyncApp(__name__, middlewares=middlewares, lifespan=lifespan)
    app.add_api(
        spec,
        base_path="",
        resolver=TagResolver(),
        pythonic_params=True,
        strict_validation=True,
        uri_parser_class=URIParser,
        validate_responses=validate_responses,
        validator_map=VALIDATORS,
    )
    install_error_handlers(app, AllowIndex(spec))
    return app


def build_app(settings: Settings) -> tuple[ASGIApp, Core]:
    """The app and the core behind it (tests reach into the core)."""
    core = Core(settings, spec_path=SPEC)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        await core.start()
        try:
            yield
        finally:
            await core.stop()

    app = connexion_app(
        connexion_middlewares(settings.validate_responses), settings.validate_responses, lifespan
    )
    limits = settings.limits
    edge = Edge(
        app,
        metrics=RequestMetrics(core.metrics_registry),
        limits=BodyLimit(
            default=limits.default_bytes,
            rules=[
                ("POST", "/api/v1/sessions/*/messages", limits.message_bytes),
                ("POST", "/api/v1/runtimes/upload", limits.upload_bytes),
                ("PUT", "/api/v1/runtimes/*", limits.upload_bytes),
                ("PUT", "/api/v1/sandboxes/*/files/upload", limits.upload_bytes),
                ("PUT", "/api/v1/sandboxes/*/files/content", limits.message_bytes),
            ],
        ),
        auth=Auth(_tokens(settings), internal_token=core.internal_token),
        services=core.services,
    )
    return edge, core
