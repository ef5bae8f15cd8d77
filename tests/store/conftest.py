from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from store_factories import session, workspace

from corral.store import Tx
from corral.store.sqlite import SqliteStore


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "data" / "corral.db")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest_asyncio.fixture
async def seeded(store: SqliteStore) -> SqliteStore:
    """A store holding workspace ws_1 with session ses_1."""

    def seed(tx: Tx) -> None:
        tx.insert_workspace(workspace())
        tx.insert_session(session())

    await store.write(seed)
    return store
