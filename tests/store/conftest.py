"""Every store test runs on each backend (`backend`: sqlite, postgres) unless its module pins
one by defining its own `backend` fixture. A PostgreSQL store gets a fresh schema of the session's
test database (tests/conftest.py `postgres_db`)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from store_factories import session, workspace

from corral.store import Store, Tx, open_store
from corral.testing.postgres import TestDatabase

BACKENDS = ("sqlite", "postgres")

Counts = Callable[[tuple[str, ...]], dict[str, int]]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database of the test's own: opened by any number of stores, they share it."""
    if backend == "sqlite":
        return f"sqlite://{tmp_path}/data/corral.db"
    db: TestDatabase = request.getfixturevalue("postgres_db")
    return db.schema_url("t")


@pytest_asyncio.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = open_store(database_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest_asyncio.fixture
async def seeded(store: Store) -> Store:
    """A store holding workspace ws_1 with session ses_1."""

    def seed(tx: Tx) -> None:
        tx.insert_workspace(workspace())
        tx.insert_session(session())

    await store.write(seed)
    return store


@pytest.fixture
def row_counts(database_url: str) -> Counts:
    """How many rows each table holds, read behind the store's back."""

    def counts(tables: tuple[str, ...]) -> dict[str, int]:
        sql = [f"SELECT COUNT(*) FROM {t}" for t in tables]
        rows: list[Any]
        if database_url.startswith("sqlite://"):
            with closing(sqlite3.connect(database_url.removeprefix("sqlite://"))) as conn:
                rows = [conn.execute(q).fetchone() for q in sql]
        else:
            with psycopg.connect(database_url) as pg:
                rows = [pg.execute(q).fetchone() for q in sql]
        return {t: int(row[0]) for t, row in zip(tables, rows, strict=True)}

    return counts
