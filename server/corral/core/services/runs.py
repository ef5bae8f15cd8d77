"""Runs: read with their steps, cancelled, guided to the head of the queue, and requeued."""

from __future__ import annotations

from corral import models
from corral.caller import Caller
from corral.core.runs import queue
from corral.core.runs.executor import Wake
from corral.core.services import mappers
from corral.core.services.pagination import read_offset_page
from corral.core.workspace import access
from corral.errors import CorralError
from corral.store import RunStepRecord, Store, Tx


class RunsService:
    def __init__(self, store: Store, wake: Wake) -> None:
        self.store = store
        self.wake = wake  # the run executor looks at the session again

    async def get_run(self, caller: Caller, run_id: str) -> models.Run:
        return mappers.run(await self.store.read(lambda tx: access.run(tx, caller, run_id)))

    async def list_run_steps(
        self, caller: Caller, run_id: str, *, page_size: int, cursor: str | None
    ) -> models.RunStepPage:
        def fetch(tx: Tx, offset: int, limit: int) -> list[RunStepRecord]:
            access.run(tx, caller, run_id)
            return tx.list_steps(run_id, offset, limit)

        rows, next_cursor = await read_offset_page(self.store, cursor, page_size, fetch)
        return models.RunStepPage(
            items=[mappers.run_step(r) for r in rows], next_cursor=next_cursor
        )

    async def cancel_run(self, caller: Caller, run_id: str) -> models.CancelRunAccepted:
        def cancel(tx: Tx) -> str | None:
            run = access.run(tx, caller, run_id)
            queue.cancel(tx, run)
            return run.session_id

        await self._wake(await self.store.write(cancel))
        return models.CancelRunAccepted(run_id=run_id)

    async def _wake(self, session_id: str | None) -> None:
        if session_id is not None:
            await self.wake(session_id)

    async def guide_run(self, caller: Caller, run_id: str) -> models.GuideRunAccepted:
        def guide(tx: Tx) -> str:
            run = tx.get_run(run_id)
            if run is None or run.trigger_type != "message" or run.session_id is None:
                raise CorralError.not_found("queued_run_not_found", "queued run", run_id)
            caller.require_workspace(run.workspace_id)
            queue.guide(tx, run)
            return run.session_id

        await self._wake(await self.store.write(guide))
        return models.GuideRunAccepted(run_id=run_id)

    async def requeue_run(self, caller: Caller, run_id: str) -> models.RequeueRunAccepted:
        def requeue(tx: Tx) -> tuple[str, str | None]:
            run = access.run(tx, caller, run_id)
            return queue.requeue(tx, run, caller.subject_ref), run.session_id

        previous, session_id = await self.store.write(requeue)
        await self._wake(session_id)
        return models.RequeueRunAccepted(
            run_id=run_id, previous_status=models.RequeuedFromStatus(previous)
        )

    async def requeue_runs(
        self, caller: Caller, *, body: models.RequeueRunsRequest
    ) -> models.RequeueRunsResult:
        items: list[models.RequeueRunAccepted | models.RequeueRunError] = []
        for run_id in (r.root for r in body.run_ids):  # one item per requested id
            try:
                items.append(await self.requeue_run(caller, run_id))
            except CorralError as exc:
                items.append(
                    models.RequeueRunError(
                        run_id=run_id, error_code=exc.code, error_message=exc.message
                    )
                )
        return models.RequeueRunsResult(items=items)
