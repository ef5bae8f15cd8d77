"""A real Corral server on a free loopback port, served by uvicorn in a thread of the caller.

Tests talk to it over a socket (in-process ASGI transports buffer streamed responses), and
`LiveServer.core` lets a test reach behind the HTTP layer when it must make something fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from corral.app import build_app
from corral.config import Settings
from corral.core.container import Core


@dataclass(frozen=True)
class LiveServer:
    url: str
    port: int
    core: Core
    settings: Settings


@contextmanager
def live_server(settings: Settings, start_timeout_s: float = 20) -> Iterator[LiveServer]:
    app, core = build_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", loop="asyncio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", port, core, settings)
    finally:
        server.should_exit = True
        thread.join(10)
