"""A bare worker process for test_store_claims.py: claims runnable runs of the database at URL
(`core/runs/lifecycle.claim`) and ends each at once (`finish`, which dispatches the session's
next run), until no run is left to end. Usage: python claim_worker.py URL NAME"""

from __future__ import annotations

import asyncio
import sys

from corral.core.runs.lifecycle import Ending, claim, finish
from corral.store import Tx, open_store

LIVE = ("queued", "running", "waiting_tool")


async def work(url: str, name: str) -> None:
    store = open_store(url)
    await store.open()
    try:
        while await store.read(lambda tx: bool(tx.runs_by_status(LIVE, 1))):
            for run_id in await store.read(lambda tx: tx.runnable_run_ids(100)):

                def take(tx: Tx, run_id: str = run_id) -> bool:
                    return claim(tx, run_id, {"id": name}) is not None

                if await store.write(take):
                    await store.write(lambda tx, r=run_id: finish(tx, r, Ending("completed")))
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(work(sys.argv[1], sys.argv[2]))
