"""`corral serve` against slow and greedy clients: thousands of half-sent request heads from
one client do not take the probes down, a head trickled in byte by byte ends at its deadline,
a client beyond its connection cap is turned away while others are served, and what the HTTP
parser rejects comes back in the JSON error envelope."""

from __future__ import annotations

import contextlib
import re
import resource
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import orjson
import pytest

from corral.testing.waiting import DEADLINE_S, wait_for
from tests.cli.processes import corral_serve

SLOW_CONNECTIONS = 2000
HEAD_START = b"GET /healthz HTTP/1.1\r\nHost: corral\r\n"


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


@contextmanager
def _slow_clients(
    address: tuple[str, int], count: int, source: str
) -> Iterator[list[socket.socket]]:
    """`count` connections from `source`, each with a head begun and never finished."""
    with ExitStack() as stack:
        sockets = []
        for _ in range(count):
            sock = stack.enter_context(
                socket.create_connection(address, source_address=(source, 0))
            )
            sock.sendall(HEAD_START)
            sockets.append(sock)
        yield sockets


def _healthz_seconds(url: str) -> float:
    with httpx.Client(timeout=5) as fresh:  # a new connection each time
        started = time.monotonic()
        assert fresh.get(f"{url}/healthz").status_code == 200
        return time.monotonic() - started


def test_probes_answer_while_one_client_holds_thousands_of_slow_heads(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < SLOW_CONNECTIONS + 256:  # this process holds the slow clients' sockets
        if hard != resource.RLIM_INFINITY and hard < SLOW_CONNECTIONS + 256:
            pytest.skip(f"this process may open {hard} files, fewer than the test's clients")
        resource.setrlimit(resource.RLIMIT_NOFILE, (SLOW_CONNECTIONS + 256, hard))
    settings = {
        "CORRAL_HTTP_MAX_CONNECTIONS_PER_CLIENT": str(SLOW_CONNECTIONS + 100),
        "CORRAL_HTTP_HEAD_TIMEOUT_SECONDS": "60",
    }
    with (
        corral_serve(tmp_path, **settings) as url,
        _slow_clients(_address(url), SLOW_CONNECTIONS, "127.0.0.2") as slow,
    ):
        wait_for(
            lambda: _metric(url, "corral_http_connections") > SLOW_CONNECTIONS,  # + the scrape
            what="the server to hold every slow connection",
        )
        for round_ in range(3):  # the heads keep trickling in, a byte per connection per round
            for sock in slow:
                sock.sendall(b"X-Slow: " if round_ == 0 else b"a")
            # The bound, for a probe on an otherwise idle server: 1 s.
            assert max(_healthz_seconds(url) for _ in range(3)) < 1.0
        assert _metric(url, "corral_http_connections") > SLOW_CONNECTIONS  # + the scrape
        assert _metric(url, "corral_http_connections_refused_total") == 0


def test_a_trickled_head_ends_at_its_deadline_with_408(tmp_path: Path) -> None:
    with corral_serve(tmp_path, CORRAL_HTTP_HEAD_TIMEOUT_SECONDS="1") as url:
        with socket.create_connection(_address(url)) as sock:
            sock.settimeout(0.2)
            answer = b""
            deadline = time.monotonic() + DEADLINE_S
            for byte in HEAD_START * 1000:  # far more than 1 s of trickling
                assert time.monotonic() < deadline, "the head was never cut off"
                try:
                    sock.sendall(bytes([byte]))
                    answer = sock.recv(4096)
                except TimeoutError:
                    continue
                except OSError:  # reset after the answer was read by no one: still cut off
                    break
                if answer:
                    break
        assert answer.startswith(b"HTTP/1.1 408 ")
        body = orjson.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body["error"]["code"] == "request_timeout"
        assert _healthz_seconds(url) < DEADLINE_S


def test_a_client_beyond_its_cap_is_turned_away_and_others_are_served(tmp_path: Path) -> None:
    with corral_serve(tmp_path, CORRAL_HTTP_MAX_CONNECTIONS_PER_CLIENT="10") as url:
        address = _address(url)
        with _slow_clients(address, 10, "127.0.0.2"):
            wait_for(lambda: _metric(url, "corral_http_connections") > 10, what="10 connections")
            with socket.create_connection(address, source_address=("127.0.0.2", 0)) as extra:
                extra.settimeout(DEADLINE_S)
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: corral\r\n\r\n")
                with contextlib.suppress(ConnectionResetError):  # closed unanswered, or reset
                    assert extra.recv(4096) == b""
            assert _metric(url, "corral_http_connections_refused_total") >= 1
            assert _healthz_seconds(url) < DEADLINE_S  # 127.0.0.1 is another client
        # Once the slow ones are gone, that client is welcome again.
        wait_for(lambda: _metric(url, "corral_http_connections") < 10, what="the slow ones to go")
        with socket.create_connection(address, source_address=("127.0.0.2", 0)) as again:
            again.sendall(b"GET /healthz HTTP/1.1\r\nHost: corral\r\nConnection: close\r\n\r\n")
            assert again.recv(4096).startswith(b"HTTP/1.1 200 ")


def test_what_the_parser_rejects_comes_in_the_envelope(tmp_path: Path) -> None:
    cases = {
        b"NOT HTTP AT ALL\r\n\r\n": (400, "invalid_request"),
        b"POST /api/v1/workspaces HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\n": (400, "invalid_request"),
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: c\r\n\r\n": (414, "uri_too_long"),
        b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n": (
            431,
            "header_fields_too_large",
        ),
    }
    with corral_serve(tmp_path) as url:
        for request, (status, code) in cases.items():
            with socket.create_connection(_address(url)) as sock:
                sock.settimeout(DEADLINE_S)
                sock.sendall(request)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 %d " % status), head
            assert b"content-type: application/json" in head
            assert orjson.loads(body)["error"]["code"] == code


def test_a_header_that_never_ends_is_cut_off_at_the_size_cap(tmp_path: Path) -> None:
    """The parser gathers an unterminated header without a limit of its own: the raw bytes of
    an incomplete head count against the cap (plus one read's slack), long before the deadline."""
    with corral_serve(tmp_path, CORRAL_HTTP_HEAD_TIMEOUT_SECONDS="600") as url:
        with socket.create_connection(_address(url)) as sock:
            sock.settimeout(DEADLINE_S)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(b"GET / HTTP/1.1\r\nX-Endless: ")
                for _ in range(64):  # 4 MiB of one header value, never terminated
                    sock.sendall(b"v" * 65536)
            answer = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(65536):
                    answer += chunk
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
        assert _healthz_seconds(url) < DEADLINE_S
