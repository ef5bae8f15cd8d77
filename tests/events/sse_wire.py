"""A raw-socket SSE reader for the tests: the exact bytes on the wire, one block at a time.

httpx would hide what these tests check (line endings, chunk boundaries, the end of the body),
and a test of a stalled reader needs a socket that nobody reads and whose receive buffer is
small. Blocks are split on the blank line that ends them, as EventSource does.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

TIMEOUT_S = 60  # a deadlock guard, never a timing assertion


@dataclass
class Block:
    """One SSE block: its fields in order of appearance, and its comment lines."""

    raw: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    @property
    def is_event(self) -> bool:
        return any(name == "data" for name, _ in self.fields)

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.fields if key == name), None)

    @property
    def cursor(self) -> int:
        return int(self.get("id") or "")

    @property
    def data(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.get("data") or "")
        return parsed


class SseReader:
    """GET an event stream over a fresh connection; read its blocks until the body ends."""

    def __init__(
        self,
        base_url: str,
        path: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        receive_buffer: int | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self.sock = socket.socket()
        if receive_buffer is not None:  # before connect, so the TCP window starts small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(TIMEOUT_S)
        self.sock.connect((parts.hostname, parts.port))
        target = path + (f"?{urlencode(params)}" if params else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Accept: text/event-stream"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self._raw = b""  # received, not yet decoded from the chunked encoding
        self._text = ""  # decoded body, not yet split into blocks
        self.ended = False  # the body's last chunk arrived
        self.status, self.headers = self._read_head()
        self.body: bytes = b""
        if self.headers.get("transfer-encoding") != "chunked":
            length = int(self.headers.get("content-length", "0"))
            self.body = self._take(length)
            self.ended = True

    def __enter__(self) -> SseReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def json(self) -> Any:
        return json.loads(self.body)

    def next_block(self) -> Block | None:
        """The next block, or None once the server has ended the body."""
        while "\n\n" not in self._text:
            if not self._decode_chunk():
                return None
        raw, self._text = self._text.split("\n\n", 1)
        block = Block(raw)
        for line in raw.split("\n"):
            if line.startswith(":"):
                block.comments.append(line[1:].strip())
            else:
                name, _, value = line.partition(": ")
                block.fields.append((name, value))
        return block

    def events(self, count: int) -> list[Block]:
        """The next `count` event blocks (comments skipped); fewer if the body ends."""
        found: list[Block] = []
        while len(found) < count:
            block = self.next_block()
            if block is None:
                break
            if block.is_event:
                found.append(block)
        return found

    def events_through(self, cursor: int) -> list[Block]:
        """Event blocks up to and including the one with this cursor."""
        found: list[Block] = []
        while not found or found[-1].cursor < cursor:
            block = self.next_block()
            if block is None:
                raise AssertionError(f"the stream ended before cursor {cursor}: {found[-1:]}")
            if block.is_event:
                found.append(block)
        return found

    def rest(self) -> list[Block]:
        """Every block until the server ends the body."""
        found = []
        while (block := self.next_block()) is not None:
            found.append(block)
        return found

    # -- HTTP/1.1 framing -------------------------------------------------------------

    def _read_head(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self._raw:
            self._receive()
        head, self._raw = self._raw.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(status_line.split()[1]), headers

    def _decode_chunk(self) -> bool:
        """Decode one chunk into the text; False at the end of the body."""
        if self.ended:
            return False
        size = int(self._line(), 16)
        if size == 0:
            self._line()  # the blank line after the last chunk
            self.ended = True
            return False
        self._text += self._take(size).decode()
        self._line()
        return True

    def _line(self) -> str:
        while b"\r\n" not in self._raw:
            self._receive()
        line, self._raw = self._raw.split(b"\r\n", 1)
        return line.decode("latin-1")

    def _take(self, size: int) -> bytes:
        while len(self._raw) < size:
            self._receive()
        taken, self._raw = self._raw[:size], self._raw[size:]
        return taken

    def _receive(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection mid-body")
        self._raw += data
