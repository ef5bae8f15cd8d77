"""Serve an ASGI app with uvicorn on a free loopback port, in a daemon thread of the caller.

Tests talk to it over a real socket: in-process ASGI transports buffer streamed responses and
never see a dropped connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn


@contextmanager
def serve_in_thread(
    app: Any,
    *,
    lifespan: Literal["auto", "on", "off"] = "auto",
    start_timeout_s: float = 20,
    shutdown_timeout_s: int | None = None,
    **options: Any,
) -> Iterator[int]:
    """Yield the port the app is served on; stop the server on exit (waiting at most
    `shutdown_timeout_s` for requests still running, if set). `options` go to uvicorn's
    Config."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan=lifespan,
        loop="asyncio",
        timeout_graceful_shutdown=shutdown_timeout_s,
        **options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(10)
