"""PostgreSQL backend (``CORRAL_DATABASE_URL=postgresql://...``)."""

from .store import PostgresStore
from .tx import PostgresTx

__all__ = ["PostgresStore", "PostgresTx"]
