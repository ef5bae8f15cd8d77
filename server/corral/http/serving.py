"""Serving the app with uvicorn, so that it stops when asked.

uvicorn waits for open responses before it shuts the app down, and an event stream never ends
on its own: the streams are ended as shutdown begins, and whatever else still runs after
`GRACE_S` is cut off.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn

from corral.app import build_app
from corral.config import Settings

GRACE_S = 5


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, end_streams: Callable[[], None]) -> None:
        super().__init__(config)
        self._end_streams = end_streams

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._end_streams()
        await super().shutdown(sockets)


def serve(settings: Settings) -> None:
    app, core = build_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,  # corral.access logs one structured line per request instead
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=GRACE_S,
    )
    _Server(config, core.end_streams).run()
