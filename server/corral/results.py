"""Results that are not JSON documents: files to send and server-sent event frames.

Plain data, so the core can return them without knowing about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class FileResult:
    """A file to send, already opened by the core: sending by descriptor, not by path, means
    a symlink swapped in after the core's checks cannot change what is sent.

    `fd` belongs to the sender, which closes it; it is None for a 304 (`not_modified`).
    `span` is the `[start, end)` byte range of a partial response (206), None for all of it.
    """

    fd: int | None
    media_type: str
    filename: str
    size: int
    etag: str
    modified_at: datetime
    span: tuple[int, int] | None = None

    @property
    def not_modified(self) -> bool:
        return self.fd is None


@dataclass(frozen=True, slots=True)
class SseFrame:
    """One block of an event stream: an event (`event`, `data`), or from `keepalive()` a
    comment line alone, which every client skips."""

    event: str
    data: str  # one line of JSON
    id: str | None = None
    retry_ms: int | None = None
    created_at: str | None = None  # the non-standard `createdAt:` line OAH's clients read
    comment: str | None = None

    @classmethod
    def keepalive(cls) -> SseFrame:
        return cls("", "", comment="ping")
