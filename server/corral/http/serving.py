"""Serving the app with uvicorn: guarded against slow and greedy clients, and stopping when
asked.

uvicorn waits for open responses before it shuts the app down, and an event stream never ends
on its own: the streams are ended as shutdown begins, and whatever else still runs after
`GRACE_S` is cut off.

One of `corral serve --workers N`'s server processes (`http/supervisor.py`) serves the
listening socket its supervisor bound, and talks to it over a control socket: one byte once it
serves, and end of file when the supervisor is gone (killed), which stops this server as
SIGTERM would, so no server outlives its supervisor holding the port. A server on its own prints
the serving line (`http/serving_line.py`) once it serves; under a supervisor, the supervisor does.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry

from corral.app import build_app
from corral.config import Settings
from corral.http.connection_guard import ConnectionGuard, proxy_networks
from corral.http.serving_line import announce
from corral.http.supervisor import READY

GRACE_S = 5
# Descriptors kept apart from client connections: the database, logs, sandbox processes.
RESERVED_FDS = 1024

log = logging.getLogger("corral.http")


class _Server(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        end_streams: Callable[[], None],
        control: socket.socket | None = None,
    ) -> None:
        super().__init__(config)
        self._end_streams = end_streams
        self._control = control

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        if self._control is None:
            announce(self.servers[0].sockets[0])  # its supervisor announces a supervised one
            return
        loop = asyncio.get_running_loop()
        self._control.setblocking(False)
        try:
            await loop.sock_sendall(self._control, READY)
        except OSError:  # it died while this server started
            self._supervisor_gone()
        else:
            loop.add_reader(self._control, self._supervisor_message)

    def _supervisor_message(self) -> None:
        assert self._control is not None
        try:
            if self._control.recv(1) != b"":
                return  # the supervisor sends nothing; end of file is its end
        except BlockingIOError:
            return
        except OSError:
            pass
        asyncio.get_running_loop().remove_reader(self._control)
        self._supervisor_gone()

    def _supervisor_gone(self) -> None:
        log.warning("the supervisor is gone: stopping")
        self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._end_streams()
        await super().shutdown(sockets)


def edge_options(settings: Settings, metrics: CollectorRegistry) -> dict[str, Any]:
    """The uvicorn settings every Corral server shares (the CLI's and the tests'); the
    connection counts join `metrics`."""
    guard = ConnectionGuard(
        head_timeout_s=settings.http_head_timeout_seconds,
        max_head_bytes=settings.http_max_head_bytes,
        max_connections=min(settings.http_max_connections, _connection_room()),
        max_per_client=settings.http_max_connections_per_client,
        exempt=proxy_networks(settings.trusted_proxies),
    )
    metrics.register(guard)
    return {
        "http": guard.protocol(),
        # X-Forwarded-For is believed from the configured proxies only, never by default.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
    }


def _connection_room() -> int:
    """Raise the descriptor limit as far as allowed; what it leaves for client connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    return max(64, soft - RESERVED_FDS)


def serve(
    settings: Settings,
    listener: socket.socket | None = None,
    control: socket.socket | None = None,
) -> None:
    """Serve until asked to stop: on `settings.host`/`port`, or on `listener`, a socket a
    supervisor bound (then `control` is the socket to it)."""
    app, core = build_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        access_log=False,  # corral.access logs one structured line per request instead
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=GRACE_S,
        **edge_options(settings, core.metrics_registry),
    )
    _Server(config, core.end_streams, control).run([listener] if listener else None)
