"""The writes of a PostgreSQL store waiting for its writer thread, taken in batches.

A batch shares one transaction: one BEGIN with the write lock, one COMMIT and one WAL flush for
all its units of work, each in a savepoint of its own so that one failing undoes only itself.
Under load the lock is held, and the disk flushed, once per batch instead of once per write; a
lone write is a batch of one, without savepoint. At most MAX_BATCH per batch: each savepoint is
a subtransaction, and PostgreSQL tracks up to 64 of a transaction cheaply.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..base import Tx

MAX_BATCH = 32


@dataclass(slots=True)
class PendingWrite:
    fn: Callable[[Tx], Any]
    future: Future[Any] = field(default_factory=Future)


class WriteQueue:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[PendingWrite] = queue.SimpleQueue()

    def put(self, fn: Callable[[Tx], Any]) -> Future[Any]:
        pending = PendingWrite(fn)
        self._queue.put(pending)
        return pending.future

    def take(self) -> list[PendingWrite]:
        """The writes waiting now (at most MAX_BATCH), less those whose caller gave up."""
        batch: list[PendingWrite] = []
        while len(batch) < MAX_BATCH:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                break
            if pending.future.set_running_or_notify_cancel():
                batch.append(pending)
        return batch
