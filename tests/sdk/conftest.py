"""The SDK against real servers that execute runs with the built-in scripted model: one
shared server for tests that only add workspaces of their own, `start_server` (tests/
conftest.py) for those needing a server of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from corral.config import Settings
from corral.testing.live_server import LiveServer, live_server
from corral.testing.processes import CALLER_VARIABLES
from corral_sdk import AsyncCorral, AsyncSession, Corral, Session


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No provider key (the scripted model answers) and no CORRAL_URL/TOKEN from the shell."""
    for name in CALLER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with pytest.MonkeyPatch.context() as env:
        for name in CALLER_VARIABLES:
            env.delenv(name, raising=False)
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("sdk"),
            run_worker=True,
            sandbox_isolation="none",
            validate_responses=True,
        )
        with live_server(settings) as served:
            yield served


@pytest.fixture
def runner(start_server: Callable[..., Any]) -> Callable[..., Any]:
    """A server of the test's own, executing runs."""
    return lambda **overrides: start_server(run_worker=True, sandbox_isolation="none", **overrides)


@pytest.fixture
def corral(shared_server: LiveServer) -> Iterator[Corral]:
    with Corral(shared_server.url) as client:
        yield client


@pytest.fixture
async def acorral(shared_server: LiveServer) -> AsyncIterator[AsyncCorral]:
    async with AsyncCorral(shared_server.url) as client:
        yield client


@pytest.fixture
def session(corral: Corral) -> Session:
    return corral.workspaces.create(name="sdk").sessions.create(title="sdk test")


@pytest.fixture
async def asession(acorral: AsyncCorral) -> AsyncSession:
    ws = await acorral.workspaces.create(name="sdk-async")
    return await ws.sessions.create(title="async sdk test")
