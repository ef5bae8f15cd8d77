"""uvicorn's httptools protocol, guarded against slow and greedy clients.

uvicorn has no deadline for a request head and no cap on connections (`limit_concurrency`
answers 503 only once a head is complete, so half-sent heads pile up until the process runs
out of file descriptors). hypercorn's `read_timeout` restarts with every byte, so a head
trickled in a byte at a time never ends; granian (hyper's header timeout) has no per-client cap
and answers malformed requests in its own words. Staying on uvicorn keeps its speed and the
in-thread test servers, and this subclass adds, per connection:

- a head deadline: from the connection's start, or a kept-alive request's first byte, the head
  must be complete within `head_timeout_s`, however slowly it trickles in (408, closed);
- a head size cap: a request line or headers beyond `max_head_bytes` get 431, closed;
- connection caps, total and per client address (trusted proxies exempt, they multiplex):
  a connection beyond them is closed as soon as it is accepted, before it holds anything;
- the parser's own rejections (malformed request lines, chunk sizes) in the JSON envelope.

It relies on uvicorn's protocol methods (`connection_made`, `on_message_begin`,
`on_headers_complete`, `send_400_response`, ...): `corral.http.pinned` refuses any uvicorn but
the one it was written against, and tests/cli/test_connection_guard.py drives each guard through
a real socket, so an upgrade that moves them fails there.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from corral.error_codes import STATUS, ErrorCode
from corral.http.envelope import envelope_body

log = logging.getLogger("corral.http")
LOG_EVERY_S = 10.0
READ_SLACK = 256 * 1024  # the most one read hands the protocol


@dataclass(eq=False)  # hashable by identity: a prometheus registry keeps it in a dict
class ConnectionGuard:
    """The limits and the live counts of one server (all its connections share them)."""

    head_timeout_s: float
    max_head_bytes: int
    max_connections: int
    max_per_client: int
    exempt: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    open: int = 0
    per_client: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    _refusals_logged_at: float = -LOG_EVERY_S

    def collect(self) -> Iterator[Metric]:
        """The counts as metrics (`registry.register(guard)`)."""
        yield GaugeMetricFamily("corral_http_connections", "Client connections open", self.open)
        yield CounterMetricFamily(
            "corral_http_connections_refused",
            "Client connections closed on arrival by the connection caps",
            self.refused,
        )

    def admit(self, client: str | None) -> bool:
        if self.open < self.max_connections and (
            client is None or self.per_client[client] < self.max_per_client or self._exempt(client)
        ):
            return True
        self.refused += 1
        now = time.monotonic()
        if now - self._refusals_logged_at >= LOG_EVERY_S:  # a flood must not flood the log
            self._refusals_logged_at = now
            log.warning(
                "connection limit reached: refusing connections (latest from %s; %d so far)",
                client,
                self.refused,
            )
        return False

    def _exempt(self, client: str) -> bool:
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(address in network for network in self.exempt)

    def protocol(self) -> type[HttpToolsProtocol]:
        """The protocol class uvicorn's `Config(http=...)` takes, bound to this guard."""
        return type("GuardedHttpToolsProtocol", (GuardedProtocol,), {"guard": self})


def proxy_networks(
    entries: Iterable[str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


class GuardedProtocol(HttpToolsProtocol):
    guard: ConnectionGuard  # set on the class by ConnectionGuard.protocol()

    _counted: str | None = None  # the client address counted for this connection
    _admitted = False
    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0  # request line and headers parsed so far
    _head_raw = 0  # bytes received while the head is incomplete
    _head_error: tuple[ErrorCode, str] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        client = self.client[0] if self.client else None
        if not self.guard.admit(client):
            transport.abort()
            return
        self._admitted = True
        self.guard.open += 1
        if client is not None:
            self._counted = client
            self.guard.per_client[client] += 1
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        if self._admitted:
            self._admitted = False
            self.guard.open -= 1
            if self._counted is not None:
                self.guard.per_client[self._counted] -= 1
                if self.guard.per_client[self._counted] <= 0:
                    del self.guard.per_client[self._counted]
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # httptools gathers a header that never ends without a limit of its own, so while a head
        # is still incomplete the raw bytes count too (plus one read's worth of slack, as a read
        # may also carry the previous request's body).
        if self._head_timer is not None and not self.transport.is_closing():
            self._head_raw += len(data)
            if self._head_raw > self.guard.max_head_bytes + READ_SLACK:
                self._answer_and_close("header_fields_too_large", "the request head is too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = self._head_raw = 0
        if self._head_timer is None:  # a kept-alive connection's next request
            self._start_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url), "uri_too_long", "the request line is too long")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(
            len(name) + len(value), "header_fields_too_large", "the request head is too large"
        )
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """Every answer the protocol gives before the app sees a request, in the envelope."""
        code, message = self._head_error or (
            "invalid_request",
            "the request is not valid HTTP/1.1",
        )
        self._answer_and_close(code, message)

    def _count_head(self, size: int, code: ErrorCode, message: str) -> None:
        self._head_bytes += size
        if self._head_bytes > self.guard.max_head_bytes:
            self._head_error = (code, message)
            raise ValueError(message)  # httptools stops parsing: uvicorn calls send_400_response

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.guard.head_timeout_s, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a response is under way: no answer can be added to it
            return
        self._answer_and_close(
            "request_timeout",
            f"the request head was not complete within {self.guard.head_timeout_s:g} s",
        )

    def _answer_and_close(self, code: ErrorCode, message: str) -> None:
        body = envelope_body(code, message)
        head = [STATUS_LINE[STATUS[code]]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
