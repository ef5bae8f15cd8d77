"""Fixtures of the command tests: one live server per isolation mode for the whole directory
(each test works in a workspace of its own), with small limits and a path to hide."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from commands_support import OUTPUT_CAP, VISIBLE, Box, Served, new_box, serving

from corral_client import Client


@pytest.fixture(scope="session")
def hidden_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    place = tmp_path_factory.mktemp("hidden")
    (place / "secret.txt").write_text("top secret")
    return place


def _settings(hidden_dir: Path) -> dict[str, object]:
    return {
        "sandbox_output_bytes": OUTPUT_CAP,
        "sandbox_max_timeout_ms": 1_500,
        "sandbox_env_passthrough": [VISIBLE],
        "sandbox_hidden_paths": [hidden_dir],
    }


@pytest.fixture(scope="session")
def bwrap_served(
    working_bwrap: None, tmp_path_factory: pytest.TempPathFactory, hidden_dir: Path
) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("bwrap")
    with serving(data_dir, sandbox_isolation="bwrap", **_settings(hidden_dir)) as served:
        yield served


@pytest.fixture(scope="session")
def none_served(tmp_path_factory: pytest.TempPathFactory, hidden_dir: Path) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("none")
    with serving(data_dir, sandbox_isolation="none", **_settings(hidden_dir)) as served:
        yield served


@pytest.fixture(scope="module", params=["bwrap", "none"])
def served(request: pytest.FixtureRequest) -> Served:
    """Each test that takes it runs once per isolation mode."""
    fixture: Served = request.getfixturevalue(f"{request.param}_served")
    return fixture


def _box(served: Served, *, read_only: bool = False) -> Iterator[Box]:
    with (
        httpx.Client(base_url=served.url, timeout=30) as http,
        Client(
            base_url=served.url, raise_on_unexpected_status=True, timeout=httpx.Timeout(30)
        ) as client,
    ):
        yield new_box(served, http, client, read_only=read_only)


@pytest.fixture(scope="module")
def box(served: Served) -> Iterator[Box]:
    """One workspace per module and mode (a workspace costs a template copy): tests that use
    it leave distinct names behind."""
    yield from _box(served)


@pytest.fixture
def fresh_box(served: Served) -> Iterator[Box]:
    yield from _box(served)


@pytest.fixture
def read_only_box(served: Served) -> Iterator[Box]:
    """A workspace imported read-only (empty), in each isolation mode."""
    yield from _box(served, read_only=True)


@pytest.fixture
def bwrap_box(bwrap_served: Served) -> Iterator[Box]:
    yield from _box(bwrap_served)


@pytest.fixture
def none_box(none_served: Served) -> Iterator[Box]:
    yield from _box(none_served)
