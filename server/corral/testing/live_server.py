"""A real Corral server on a free loopback port, served by uvicorn in a thread of the caller
(guarded as `corral serve` is): the one way tests start a server in their own process.

Tests talk to it over a socket (in-process ASGI transports buffer streamed responses), and
`LiveServer.core` lets a test reach behind the HTTP layer when it must make something fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from corral.app import build_app
from corral.config import Settings
from corral.core.container import Core
from corral.http.serving import edge_options
from corral.testing import postgres
from corral.testing.threaded_server import serve_in_thread


@dataclass(frozen=True)
class LiveServer:
    url: str
    port: int
    core: Core
    settings: Settings

    def client(self, token: str | None = None) -> httpx.Client:
        """A client of this server, as `token`'s bearer if given. It keeps no connection
        alive: one left idle past uvicorn's keep-alive timeout (while a test waits, or while
        other tests use a shared server) is closed by the server just as the client reuses it.
        Its read timeout stays below the event streams' default keep-alive interval (15 s), so
        a stream that should end but does not fails the test instead of hanging it.
        """
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        limits = httpx.Limits(max_keepalive_connections=0)
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, limits=limits)


@contextmanager
def live_server(settings: Settings, start_timeout_s: float = 20) -> Iterator[LiveServer]:
    """Serve `settings`; on a schema of the tests' PostgreSQL database instead of the SQLite
    file under its data directory when ``CORRAL_TEST_DATABASE=postgres`` (testing/postgres.py)
    and the settings name no database."""
    schemas = postgres.server_schemas
    if schemas is not None and settings.database_url is None:
        url = schemas.url_for(settings.data_dir)
        settings = settings.model_copy(update={"database_url": url})
    app, core = build_app(settings)
    with serve_in_thread(
        app,
        lifespan="on",
        start_timeout_s=start_timeout_s,
        **edge_options(settings, core.metrics_registry),
    ) as port:
        yield LiveServer(f"http://127.0.0.1:{port}", port, core, settings)
