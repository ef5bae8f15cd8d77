"""Events committed by other processes sharing the database (a `corral worker`, another API
process): the store only announces this process's commits, so the cursors of the sessions
someone here follows are polled, and what advanced is published on the local bus.
"""

from __future__ import annotations

import asyncio
import logging

from corral.store import Store

from .local import LocalEventBus

log = logging.getLogger("corral.events")


class ForeignCommitPoller:
    def __init__(self, store: Store, bus: LocalEventBus, interval_s: float) -> None:
        self.store = store
        self.bus = bus
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll(), name="corral-foreign-commits")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self._check(self.bus.watched_sessions())
            except Exception:
                log.exception("polling for other processes' events failed; retrying")

    async def _check(self, sessions: list[str]) -> None:
        if sessions:
            cursors = await self.store.read(lambda tx: tx.last_event_cursors(sessions))
            self.bus.publish(cursors)  # a cursor a subscription already reached is a no-op
