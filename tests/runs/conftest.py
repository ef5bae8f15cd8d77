"""Servers that execute runs (the API tests' servers only queue them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")


@pytest.fixture(autouse=True)
def _no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default model is the scripted one unless a test points a provider at a fake."""
    for name in PROVIDER_KEYS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def runner(start_server: Callable[..., Any]) -> Callable[..., Any]:
    def start(**overrides: Any) -> Any:
        overrides.setdefault("run_worker", True)
        overrides.setdefault("sandbox_isolation", "none")
        return start_server(**overrides)

    return start


@pytest.fixture
def server(runner: Callable[..., Any]) -> Any:
    return runner()
