"""Connections of a PostgreSQL store: the URL turned into libpq parameters (with Corral's
defaults), the URL as messages may show it, and the pools with their session settings.

Pooled connections are in autocommit mode (the store issues BEGIN itself, with the isolation it
needs), read rows as dicts, use UTC (timestamptz come back in UTC), and store NUL in text as
U+FFFD (``codec.py``). Readers' sessions are read-only, so that a read fn's statement outside a
transaction cannot write either.
"""

from __future__ import annotations

from functools import partial

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from ..urls import redacted
from .codec import NulFreeStrDumper
from .txbase import Connection

Pool = ConnectionPool[Connection]

# How long a unit of work waits for a connection (the server restarting, say) before it fails.
POOL_TIMEOUT_S = 10.0
# Longest a connection may sit in a transaction without a statement (a writer holds the lock).
IDLE_IN_TRANSACTION_S = 30


def conninfo(url: str) -> str:
    """libpq connection parameters for `url`, with Corral's defaults where it sets none."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ValueError(f"invalid PostgreSQL URL {redacted(url)!r}: {exc}") from exc
    defaults: dict[str, str | int] = {
        "connect_timeout": 10,
        "fallback_application_name": "corral",
        # A peer that vanished without closing (a paused process, a machine off the network)
        # is noticed within about a minute, not TCP's two hours: until then it could hold the
        # write lock every process waits on.
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "tcp_user_timeout": 60_000,
    }
    return make_conninfo(url, **{k: v for k, v in defaults.items() if k not in params})


def connection_pool(info: str, size: int, *, read_only: bool) -> Pool:
    """A pool of `size` connections (not yet open)."""
    return ConnectionPool(
        info,
        connection_class=psycopg.Connection[DictRow],
        kwargs={"autocommit": True, "row_factory": dict_row},
        min_size=size,
        max_size=size,
        open=False,
        configure=partial(_configure, read_only=read_only),
        name="corral-reader" if read_only else "corral-writer",
        timeout=POOL_TIMEOUT_S,
    )


def _configure(conn: Connection, *, read_only: bool) -> None:
    access = "on" if read_only else "off"
    # A session that stops talking inside a transaction is ended by the server, so its locks
    # (the writers' commit row) are not held for longer than that.
    conn.execute(
        f"SET TIME ZONE 'UTC'; SET default_transaction_read_only = {access};"
        f" SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_S}s'"
    )
    conn.adapters.register_dumper(str, NulFreeStrDumper)
