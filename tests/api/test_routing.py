"""The fast routing (corral.http.fast_routing) routes exactly as Connexion's own.

Two apps are built as the server builds its own (`corral.app.connexion_app`): one with the
server's middlewares, one with Connexion's stock RoutingMiddleware in place of FastRouting. In
both a probe stands right after the routing and answers each routed request with what the
routing decided (the operation, its path parameters, the API's base path); requests routed
nowhere go on to Connexion's 404 or 405. Every method is sent to concrete URLs made from every
path of the spec, to unknown paths and to near misses, and the two apps must answer alike.

The one deliberate difference: a path that is literally one of the spec's answers 405 for the
methods it lacks even where a templated path would take them (OpenAPI has concrete paths win;
Starlette alone routes by first match, so GET /runs/requeue would be getRun).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import httpx
import yaml
from connexion import AsyncApp
from connexion.middleware.routing import RoutingMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from corral.app import SPEC, connexion_app, connexion_middlewares
from corral.http.fast_routing import FastRouting

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Path parameter values: an id, and values whose escapes decode to a space, a non-ASCII
# letter and a slash (after which the path is another one, or none).
SAMPLES = ("ses_0123456789abcdef0123456789abcdef", "a%20b", "%C3%A9t%C3%A9", "x%2Fruns")
UNKNOWN = (
    "/",
    "/api",
    "/api/v1/",
    "/api/v1/nope",
    "/api/v1/sessions",
    "/api/v1/sessions/",
    "/api/v1/sessions//messages",
    "/api/v1/sessions/s1/nope",
    "/api/v1/sessions/s1/messages/m1/context/more",
    "/api/v1/workspaces/w1/actions//runs",
    "/API/V1/WORKSPACES",
    "/healthz/more",
    "/internal/v1/models",
)


class Probe:
    """Right after the routing: a routed request is answered with the routing's decision."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        routed = scope.get("extensions", {}).get("connexion_routing", {})
        if scope["type"] != "http" or routed.get("operation_id") is None:
            await self.app(scope, receive, send)
            return
        decision = {
            "operationId": routed["operation_id"],
            "apiBasePath": routed["api_base_path"],
            "pathParams": scope["path_params"],
        }
        # In a header: a HEAD response has no body.
        await Response(headers={"x-routed": json.dumps(decision)})(scope, receive, send)


def probed(routing: type[RoutingMiddleware]) -> AsyncApp:
    stack = connexion_middlewares(validate_responses=False)
    at = stack.index(FastRouting)
    stack[at : at + 1] = [routing, Probe]
    return connexion_app(stack, validate_responses=False)


def client(app: AsyncApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://corral")


def spec_paths() -> dict[str, dict[str, str]]:
    """Each path of the spec with its operationIds by method, as the server loads the spec."""
    spec = yaml.safe_load(SPEC.read_text())
    return {
        path: {m.upper(): op["operationId"] for m, op in item.items() if m.upper() in METHODS}
        for path, item in spec["paths"].items()
    }


def urls(paths: dict[str, dict[str, str]]) -> list[str]:
    made = set(UNKNOWN)
    for template in paths:
        filled = [re.sub(r"\{[^/}]+\}", sample, template) for sample in SAMPLES]
        made |= {*filled, filled[0] + "/"}
    return sorted(made)


def takes(methods: dict[str, str], method: str) -> bool:
    return method in methods or (method == "HEAD" and "GET" in methods)


def literal_wins(paths: dict[str, dict[str, str]], method: str, url: str) -> str | None:
    """The `Allow` of the fast routing's 405 where a literal path of the spec lacks `method`
    that a templated one matching the same path has; None elsewhere."""
    path = unquote(url)
    literal = paths.get(path)
    if literal is None or "{" in path or takes(literal, method):
        return None
    for template, methods in paths.items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if "{" in template and takes(methods, method) and re.match(pattern, path):
            return ", ".join([*literal, "HEAD"] if "GET" in literal else literal)
    return None


async def outcome(client: httpx.AsyncClient, method: str, url: str) -> tuple[Any, ...]:
    response = await client.request(method, url)
    routed = response.headers.get("x-routed")
    body = response.json() if response.content else None
    return response.status_code, response.headers.get("allow"), routed and json.loads(routed), body


async def test_fast_routing_picks_what_connexion_picks_for_every_path_and_method() -> None:
    paths = spec_paths()
    fast_app = probed(FastRouting)
    routed, literal_405s = set(), []
    async with client(fast_app) as fast, client(probed(RoutingMiddleware)) as stock:
        for url in urls(paths):
            for method in METHODS:
                ours, theirs = await outcome(fast, method, url), await outcome(stock, method, url)
                allow = literal_wins(paths, method, url)
                if allow is None:
                    assert ours == theirs, (method, url)
                else:
                    literal_405s.append((method, url))
                    assert ours[:2] == (405, allow), (method, url)
                    assert method == "HEAD" or ours[3]["error"]["code"] == "method_not_allowed"
                    assert theirs[0] == 200, (method, url)  # a templated operation took it
                if ours[0] == 200:
                    routed.add(ours[2]["operationId"])
    routing = next(m for m in fast_app.middleware.middleware_stack if isinstance(m, FastRouting))
    assert routing._first_match is not None  # the fast path is in use, not only the fallback
    assert len(routed) == sum(len(methods) for methods in paths.values())  # every operation
    assert ("GET", "/api/v1/runs/requeue") in literal_405s
