"""Shared fixtures: a real Corral server on a loopback port, in a thread of the test process
(on SQLite, or on PostgreSQL with CORRAL_TEST_DATABASE=postgres), the session's PostgreSQL test
database, and the gate of every test that needs a working bubblewrap."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from corral.config import Settings
from corral.sandbox.isolation import choose_isolation
from corral.testing import postgres
from corral.testing.live_server import LiveServer, live_server
from corral.testing.postgres import (
    ServerSchemas,
    TestDatabase,
    admin_url,
    postgres_required,
    server_database_kind,
    unreachable_reason,
)


@pytest.fixture(scope="session")
def postgres_db() -> Iterator[TestDatabase]:
    """A fresh PostgreSQL database for this test session (testing/postgres.py), dropped at its
    end. Without a reachable server the tests taking it skip, or fail where CI=true or
    CORRAL_REQUIRE_POSTGRES=1."""
    url = admin_url()
    reason = unreachable_reason(url)
    if reason is not None:
        if postgres_required():
            pytest.fail(
                f"PostgreSQL is required here (CI=true or CORRAL_REQUIRE_POSTGRES=1): {reason}"
            )
        pytest.skip(f"needs PostgreSQL: {reason}; CORRAL_TEST_POSTGRES_URL names another server")
    db = TestDatabase(url)
    try:
        yield db
    finally:
        db.drop()


@pytest.fixture(scope="session", autouse=True)
def _servers_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """With CORRAL_TEST_DATABASE=postgres, every server a test starts in its process uses a
    schema of the session's PostgreSQL database instead of a SQLite file."""
    if server_database_kind() != "postgres":
        yield
        return
    postgres.server_schemas = ServerSchemas(request.getfixturevalue("postgres_db"))
    try:
        yield
    finally:
        postgres.server_schemas = None


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start a server with settings overrides; every server started is stopped afterwards."""
    numbers = itertools.count()
    with ExitStack() as running:

        def start(**overrides: Any) -> LiveServer:
            data_dir = overrides.pop("data_dir", tmp_path / f"data{next(numbers)}")
            # Without a worker, runs stay where the queue put them: the API tests check queue
            # placement; the runtime tests (tests/runs) start servers that execute runs.
            overrides.setdefault("run_worker", False)
            settings = Settings(data_dir=data_dir, validate_responses=True, **overrides)
            return running.enter_context(live_server(settings))

        yield start


@pytest.fixture
def server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server()


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="session")
def working_bwrap(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Taken by every test that needs bwrap. Where the server's own probe finds it missing or
    unable to run (no user namespaces, say) those tests skip, so a fresh machine passes; with
    CORRAL_REQUIRE_BWRAP=1 (CI) they fail instead, so CI always proves the bwrap path."""
    probe_root = tmp_path_factory.mktemp("bwrap-probe")
    try:
        asyncio.run(choose_isolation("bwrap", network=False, hidden=[], probe_root=probe_root))
    except RuntimeError as exc:
        if os.environ.get("CORRAL_REQUIRE_BWRAP") == "1":
            pytest.fail(f"CORRAL_REQUIRE_BWRAP=1 but {exc}")
        pytest.skip(f"needs a working bubblewrap: {exc}")
