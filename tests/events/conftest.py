"""Fixtures of the event-stream tests: one shared server for tests that only add sessions of
their own, and `start_server` (tests/conftest.py) for those that need settings of their own."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from corral.config import Settings
from corral.testing.live_server import LiveServer, live_server


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("events"), validate_responses=True)
    with live_server(settings) as served:
        yield served


@pytest.fixture
def shared_api(shared_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_server.url, timeout=10) as client:
        yield client
