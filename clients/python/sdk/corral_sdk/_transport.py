"""What the sync and async transports share: client settings, the stream timeouts, which
failures a stream survives, and the `EventFeed` they follow."""

from __future__ import annotations

import os
from typing import Any

import httpx

from corral_sdk._feed import EventFeed
from corral_sdk._version import __version__
from corral_sdk.errors import CorralConnectionError, ServerError

DEFAULT_URL = "http://127.0.0.1:8787"
# A stream is idle for at most the server's ping interval (15 s by default): a read that waits
# much longer is on a dead connection, which is then resumed.
STREAM_TIMEOUT = httpx.Timeout(10.0, read=60.0)
# What breaks a stream without being the server's answer to it: resume from the last cursor.
DROPPED = (httpx.TransportError, ServerError)


def client_options(
    base_url: str | None, token: str | None, timeout: float | None
) -> dict[str, Any]:
    """httpx client settings: the API's origin (default `$CORRAL_URL`, then the local
    server; a trailing `/api/v1` is dropped, the generated paths carry it), the bearer token
    (default `$CORRAL_TOKEN`), and a user agent."""
    url = base_url or os.environ.get("CORRAL_URL") or DEFAULT_URL
    token = token if token is not None else os.environ.get("CORRAL_TOKEN")
    headers = {"User-Agent": f"corral-sdk/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return {
        "base_url": url.rstrip("/").removesuffix("/api/v1"),
        "headers": headers,
        "timeout": timeout,
    }


def unreachable(request: dict[str, Any], error: httpx.TransportError) -> CorralConnectionError:
    method, url = str(request["method"]).upper(), request["url"]
    return CorralConnectionError(f"{method} {url} got no answer: {error!r}")


class BaseTransport:
    def __init__(self, reconnect_patience_s: float) -> None:
        self.patience_s = reconnect_patience_s

    def feed(
        self,
        session_id: str,
        run_id: str | None = None,
        *,
        after: int | None = None,
        follow: bool = True,
    ) -> EventFeed:
        return EventFeed(session_id, run_id, after, follow, patience_s=self.patience_s)
