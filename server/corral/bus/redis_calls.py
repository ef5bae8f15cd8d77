"""How the Redis link calls Redis and ends its tasks: redis-py calls awaited without losing a
cancellation, connection failures said once, tasks given a bounded time to end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Collection
from typing import TypeVar

from redis.exceptions import RedisError

T = TypeVar("T")
log = logging.getLogger("corral.redis")

STOP_S = 10.0  # how long the link's tasks may take to end


async def call(call: Awaitable[T]) -> T:
    """Await a redis-py call without losing a cancellation: redis-py can swallow one that
    lands mid-command (redis/redis-py#2028, #2665, seen with 8.2.0), leaving a task that never
    ends; it is raised again here once the call returns (every call here is time-bounded)."""
    try:
        return await call
    finally:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError


def failed(what: str, exc: Exception, was_working: bool) -> None:
    """Say once that a connection failed (it is retried); a failure that is not Redis's or the
    network's is a bug, said every time."""
    if not isinstance(exc, RedisError | OSError):
        log.error("%s failed unexpectedly; retrying", what, exc_info=exc)
    elif was_working:
        log.warning("%s failed (%s); retrying", what, exc)


async def end_tasks(tasks: Collection[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    if tasks:
        _, stuck = await asyncio.wait(tasks, timeout=STOP_S)
        for task in stuck:
            log.error("%s did not stop; abandoned", task.get_name())


def set_from_any_thread(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: the process is ending
        loop.call_soon_threadsafe(event.set)
