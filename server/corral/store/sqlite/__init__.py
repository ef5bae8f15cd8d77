"""SQLite backend (the default)."""

from .store import SqliteStore
from .tx import SqliteTx

__all__ = ["SqliteStore", "SqliteTx"]
