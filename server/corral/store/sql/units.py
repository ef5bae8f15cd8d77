"""What every backend does around a unit of work: refuse an async fn, run it on one of the
store's threads, and tell the event listeners, once a write has committed, how far it took each
session's events; and `async with store:` for every backend."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from types import TracebackType
from typing import Self, TypeVar

from ..base import EventListener

T = TypeVar("T")
log = logging.getLogger("corral.store")


def checked(result: T) -> T:
    if inspect.isawaitable(result):
        # An async fn would run outside the transaction; refuse instead of committing nothing.
        if inspect.iscoroutine(result):
            result.close()
        raise TypeError("the fn given to Store.read/write must be synchronous")
    return result


def announce(listeners: Iterable[EventListener], cursors: Mapping[str, int]) -> None:
    """Called on the committing thread, after the commit, only when events were appended."""
    for listener in listeners:
        try:
            listener(cursors)
        except Exception:  # the write has committed: a listener cannot take that back
            log.exception("event listener failed after commit")


def required(thing: T | None) -> T:
    """A part the store builds at `open()` (its threads, its pools)."""
    if thing is None:
        raise RuntimeError("the store is not open")
    return thing


async def submit(executor: Executor, job: Callable[..., T], *args: object) -> T:
    return await asyncio.wrap_future(executor.submit(job, *args))


class OpenedInContext:
    """`async with store:` opens the store and closes it at the block's end."""

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
