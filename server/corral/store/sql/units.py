"""What every backend does around a unit of work: refuse an async fn, and tell the event
listeners, once a write has committed, how far it took each session's events."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Mapping
from typing import TypeVar

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
