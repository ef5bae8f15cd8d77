"""Results that are not JSON documents: files to send and server-sent event frames.

Plain data, so the core can return them without knowing about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True, slots=True)
class FileResult:
    path: Path
    media_type: str
    filename: str
    size: int
    etag: str
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class SseFrame:
    event: str
    data: str  # one line of JSON
    id: str | None = None
    retry_ms: int | None = None
