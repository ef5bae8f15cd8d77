"""Serve an ASGI app with uvicorn on a loopback port of the system's choosing (port 0: no race
for a free one), in a daemon thread of the caller.

Tests talk to it over a real socket: in-process ASGI transports buffer streamed responses and
never see a dropped connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn

from corral.testing.waiting import wait_for


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
    wait_for(
        lambda: server.started or not thread.is_alive(),
        timeout=start_timeout_s,
        what="the server to start",
    )
    if not server.started:
        raise RuntimeError("the server did not start")
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(10)
