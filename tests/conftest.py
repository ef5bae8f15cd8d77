"""Shared fixtures: a real Corral server on a loopback port, in a thread of the test process."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from corral.config import Settings
from corral.core.container import Core
from corral.testing.live_server import live_server


@dataclass
class LiveServer:
    url: str
    core: Core
    settings: Settings

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start a server with settings overrides; every server started is stopped afterwards."""
    numbers = itertools.count()
    with ExitStack() as running:

        def start(**overrides: Any) -> LiveServer:
            data_dir = overrides.pop("data_dir", tmp_path / f"data{next(numbers)}")
            # Without a worker, runs stay where the queue put them: the API tests check queue
            # placement; the runtime tests (tests/runs) start servers that execute runs.
            overrides.setdefault("run_worker", False)
            settings = Settings(data_dir=data_dir, validate_responses=True, **overrides)
            served = running.enter_context(live_server(settings))
            return LiveServer(served.url, served.core, served.settings)

        yield start


@pytest.fixture
def server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server()


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client
