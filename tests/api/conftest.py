"""Fixtures of the API tests: a workspace and a session on the per-test server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from helpers import create_session, create_workspace


@pytest.fixture
def workspace(api: httpx.Client) -> dict[str, Any]:
    return create_workspace(api)


@pytest.fixture
def session(api: httpx.Client, workspace: dict[str, Any]) -> dict[str, Any]:
    return create_session(api, workspace["id"])
