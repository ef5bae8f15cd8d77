"""Shared fixtures: a real Corral server on a loopback port, in a thread of the test process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from corral.app import build_app
from corral.config import Settings
from corral.core.container import Core


@dataclass
class LiveServer:
    url: str
    core: Core
    settings: Settings

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start a server with settings overrides; every server started is stopped afterwards."""
    stops: list[Callable[[], None]] = []

    def start(**overrides: Any) -> LiveServer:
        data_dir = tmp_path / f"data{len(stops)}"
        settings = Settings(data_dir=data_dir, validate_responses=True, **overrides)
        app, core = build_app(settings)
        port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                lifespan="on", loop="asyncio")  # fmt: skip
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)

        def stop() -> None:
            server.should_exit = True
            thread.join(10)

        stops.append(stop)
        return LiveServer(f"http://127.0.0.1:{port}", core, settings)

    yield start
    for stop in reversed(stops):
        stop()


@pytest.fixture
def server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server()


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client
