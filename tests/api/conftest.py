"""Fixtures of the API tests.

Most tests get a fresh server from the fixtures of `tests/conftest.py`. Starting one costs
about a third of a second, so two kinds of tests share one server per module instead:
negative checks that change nothing (`shared_api`), and the tests of modules that declare
`server` to be `shared_server` because each of their tests works in a workspace and session
of its own (nothing they assert depends on what other tests created).
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from helpers import create_session, create_workspace

from corral.config import Settings
from corral.testing.live_server import LiveServer, live_server


@pytest.fixture(scope="session", autouse=True)
def _parse_the_spec_once() -> Iterator[None]:
    """`build_app` parses openapi.yaml twice with pure-Python PyYAML (~1 s per server). The
    same text always parses to the same tree, so tests parse it once with libyaml and hand
    every caller its own copy (Connexion resolves references in place)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    original = yaml.safe_load

    @functools.lru_cache(maxsize=8)
    def parsed(text: str) -> bytes:
        return pickle.dumps(yaml.load(text, Loader=loader))

    def safe_load(stream: Any) -> Any:
        if isinstance(stream, bytes):
            stream = stream.decode("utf-8")
        if not isinstance(stream, str):
            return original(stream)
        return pickle.loads(parsed(stream))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(yaml, "safe_load", safe_load)
        yield


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the whole module."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("shared"), validate_responses=True, run_worker=False
    )  # queue placement only, as in tests/conftest.py
    with live_server(settings) as live:
        yield live


@pytest.fixture(scope="module")
def shared_api(shared_server: LiveServer) -> Iterator[httpx.Client]:
    """A client of the module's server: only for tests that change nothing."""
    with shared_server.client() as client:
        yield client


@pytest.fixture
def workspace(api: httpx.Client) -> dict[str, Any]:
    return create_workspace(api)


@pytest.fixture
def session(api: httpx.Client, workspace: dict[str, Any]) -> dict[str, Any]:
    return create_session(api, workspace["id"])
