"""Waiting for a condition: the one way tests of Corral wait for something to happen.

A test never sleeps for a guessed time: it polls a condition until it holds. The deadline only
turns a hang into a failure that says what never happened; it is no speed expectation (the
machine may be shared and slow), so it is generous and a test rarely needs to pass its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

DEADLINE_S = 60.0
_POLL_S = 0.01
RUN_ENDED = frozenset({"completed", "failed", "cancelled", "timed_out"})


def wait_for(
    predicate: Callable[[], T | None], *, timeout: float = DEADLINE_S, what: str = ""
) -> T:
    """Poll `predicate` until it returns something truthy, and return that; raise
    AssertionError naming `what` when `timeout` seconds pass first. Blocks the calling thread:
    in a coroutine, await `wait_for_async` instead."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(_still_waiting(what, timeout))
        time.sleep(_POLL_S)
    return value


async def wait_for_async(
    predicate: Callable[[], T | None], *, timeout: float = DEADLINE_S, what: str = ""
) -> T:
    """`wait_for` for a coroutine: the event loop runs other tasks between polls."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(_still_waiting(what, timeout))
        await asyncio.sleep(_POLL_S)
    return value


def wait_for_run(client: httpx.Client, run_id: str, *statuses: str) -> dict[str, Any]:
    """Wait until the run's status is one of `statuses` (by default: any that ends a run);
    return the run as `GET /runs/{id}` shows it then."""
    wanted = set(statuses) or RUN_ENDED

    def reached() -> dict[str, Any] | None:
        resp = client.get(f"/api/v1/runs/{run_id}")
        assert resp.status_code == 200, resp.text
        run: dict[str, Any] = resp.json()
        return run if run["status"] in wanted else None

    return wait_for(reached, what=f"run {run_id} to be {' or '.join(sorted(wanted))}")


def _still_waiting(what: str, timeout: float) -> str:
    return f"still waiting after {timeout:g} s for {what or 'the condition'}"
