"""The `corral` client commands against real servers executing runs with the scripted model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from corral.cli import app
from corral.testing.processes import CALLER_VARIABLES
from corral_sdk import Corral


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No provider key (the scripted model answers) and no CORRAL_URL/TOKEN from the shell."""
    for name in CALLER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server(start_server: Callable[..., Any]) -> Any:
    return start_server(run_worker=True, sandbox_isolation="none")


@pytest.fixture
def corral(server: Any) -> Iterator[Corral]:
    with Corral(server.url) as client:
        yield client


@pytest.fixture
def cli(server: Any) -> Callable[..., Result]:
    """Invoke `corral ARGS…` in-process; the server is found through CORRAL_URL."""
    runner = CliRunner()
    env = {"CORRAL_URL": server.url, "COLUMNS": "200"}  # wide enough for ids in tables

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, env=env)

    return invoke
