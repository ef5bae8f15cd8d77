"""Throwaway PostgreSQL databases for tests: one fresh database per test session, created on the
server `CORRAL_TEST_POSTGRES_URL` names (default: user postgres on 127.0.0.1:5432), holding one
schema per test or per server, and dropped at the end.

A schema is chosen with libpq's ``options=-csearch_path=...`` in the URL, so the store under test
creates its tables there and two stores given the same URL share them.

Where no PostgreSQL answers, tests that need one skip, saying why; with ``CI=true`` or
``CORRAL_REQUIRE_POSTGRES=1`` they fail instead, so CI always proves the PostgreSQL paths.
"""

from __future__ import annotations

import itertools
import os
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get("CORRAL_TEST_POSTGRES_URL") or DEFAULT_ADMIN_URL


def postgres_required() -> bool:
    return (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("CORRAL_REQUIRE_POSTGRES") == "1"
    )


def unreachable_reason(url: str) -> str | None:
    """Why no PostgreSQL can be used at `url`, or None when one answers."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"no PostgreSQL at {url} ({str(exc).strip().splitlines()[0]})"
    return None


def _with_path(url: str, path: str, query: str = "") -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=path, query=query))


class TestDatabase:
    """A database of its own on the server at `admin`, created now; `drop()` removes it."""

    __test__ = False  # not a pytest test class

    def __init__(self, admin: str) -> None:
        self.admin = admin
        self.name = f"corral_test_{uuid.uuid4().hex[:12]}"
        self.url = _with_path(admin, "/" + self.name)
        self._schemas = itertools.count(1)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def schema_url(self, label: str = "s") -> str:
        """The URL of a new empty schema of this database."""
        schema = f"{label}_{next(self._schemas)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return _with_path(self.url, "/" + self.name, "options=" + quote(f"-csearch_path={schema}"))

    def drop(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class ServerSchemas:
    """A schema of `db` per data directory, for the servers tests start while the test database
    is PostgreSQL (``CORRAL_TEST_DATABASE=postgres``): servers sharing a data directory (an API
    process and its worker) share a database too, as they would share a SQLite file."""

    def __init__(self, db: TestDatabase) -> None:
        self.db = db
        self._urls: dict[Path, str] = {}

    def url_for(self, data_dir: Path) -> str:
        key = data_dir.resolve()
        if key not in self._urls:
            self._urls[key] = self.db.schema_url("server")
        return self._urls[key]


# Set (by the tests' conftest) while servers started by `corral.testing.live_server` should use
# PostgreSQL; None: they use the SQLite file under their data directory.
server_schemas: ServerSchemas | None = None


def server_database_env(data_dir: Path) -> dict[str, str]:
    """The variables that put a server process started by a test on the database a server in
    the test's own process would use (nothing while that is the SQLite file)."""
    if server_schemas is None:
        return {}
    return {"CORRAL_DATABASE_URL": server_schemas.url_for(data_dir)}


def server_database_kind() -> str:
    """The database the tests' servers use: ``sqlite`` (default) or ``postgres``."""
    choice = os.environ.get("CORRAL_TEST_DATABASE", "sqlite")
    if choice not in ("sqlite", "postgres"):
        raise ValueError(f"CORRAL_TEST_DATABASE must be sqlite or postgres, not {choice!r}")
    return choice
