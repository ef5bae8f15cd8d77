"""Cursors of list endpoints (docs/contract.md#pagination): offsets everywhere, a keyset for
messages.

Both are opaque to clients; anything that does not decode is 400 `invalid_cursor`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import orjson

from corral.errors import CorralError
from corral.store import MessageKey, Store, Tx

R = TypeVar("R")


def invalid_cursor(cursor: str, message: str = "cursor is malformed") -> CorralError:
    return CorralError("invalid_cursor", message, {"cursor": cursor[:200]})


def decode_offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 12:
        raise invalid_cursor(cursor)
    return int(cursor)


def next_offset(offset: int, page_size: int, fetched: int) -> str | None:
    """Listings fetch page_size + 1 rows; a surplus row means there is another page."""
    return str(offset + page_size) if fetched > page_size else None


async def read_offset_page(
    store: Store, cursor: str | None, page_size: int, fetch: Callable[[Tx, int, int], list[R]]
) -> tuple[list[R], str | None]:
    """One page of an offset listing and the cursor of the next: `fetch(tx, offset, limit)`."""
    offset = decode_offset(cursor)
    rows = await store.read(lambda tx: fetch(tx, offset, page_size + 1))
    return rows[:page_size], next_offset(offset, page_size, len(rows))


def encode_message_key(created_at: datetime, message_id: str) -> str:
    raw = orjson.dumps({"createdAt": created_at.isoformat(), "id": message_id})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_message_key(cursor: str | None) -> MessageKey | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
        created_at, message_id = datetime.fromisoformat(data["createdAt"]), data["id"]
    except (binascii.Error, ValueError, TypeError, KeyError, orjson.JSONDecodeError):
        raise invalid_cursor(cursor) from None
    if created_at.tzinfo is None or not isinstance(message_id, str):
        raise invalid_cursor(cursor)
    return created_at, message_id
