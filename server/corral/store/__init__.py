"""Persistence behind one async interface, chosen by configuration.

>>> store = open_store("sqlite:///var/lib/corral/corral.db")  # or postgresql://user@host/db
>>> await store.open()
>>> ws = await store.read(lambda tx: tx.get_workspace("ws_..."))
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from .base import (
    ACTIVE_RUN_STATUSES,
    ConflictError,
    Direction,
    EventListener,
    MessageContext,
    Store,
    StoreError,
    Tx,
)
from .records import (
    EventRecord,
    JsonObject,
    MessageKey,
    MessageRecord,
    PendingRunRecord,
    RunRecord,
    RunStepRecord,
    SessionRecord,
    WorkspaceRecord,
)
from .urls import redacted

SUPPORTED_SCHEMES = ("sqlite", "postgresql", "postgres")


def open_store(url: str) -> Store:
    """Build (not yet open) the store a URL names: ``sqlite:///abs/path/corral.db`` or
    ``postgresql://user:password@host:port/dbname`` (any libpq URL: query parameters such as
    ``sslmode`` or ``options`` are passed on).

    ``await store.open()`` creates the SQLite file and its parent directories, or the schema
    in an existing PostgreSQL database; both migrate the schema to this server's version.
    """
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        from .postgres import PostgresStore

        return PostgresStore(url)
    if parts.scheme == "sqlite":
        from .sqlite import SqliteStore

        path = unquote(parts.path)
        if parts.netloc or not path.startswith("/") or path in ("/", "/:memory:"):
            raise ValueError(
                f"invalid sqlite store URL {redacted(url)!r}: expected sqlite:///absolute/path/corral.db"
            )
        return SqliteStore(Path(path))
    raise ValueError(
        f"unsupported store URL scheme {parts.scheme!r} in {redacted(url)!r};"
        f" supported: {', '.join(s + '://' for s in SUPPORTED_SCHEMES)}"
    )


__all__ = [
    "ACTIVE_RUN_STATUSES",
    "SUPPORTED_SCHEMES",
    "ConflictError",
    "Direction",
    "EventListener",
    "EventRecord",
    "JsonObject",
    "MessageContext",
    "MessageKey",
    "MessageRecord",
    "PendingRunRecord",
    "RunRecord",
    "RunStepRecord",
    "SessionRecord",
    "Store",
    "StoreError",
    "Tx",
    "WorkspaceRecord",
    "open_store",
]
