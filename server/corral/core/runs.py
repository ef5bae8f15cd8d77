"""Runs: read with their steps, cancelled, guided to the head of the queue, and requeued."""

from __future__ import annotations

from corral import models
from corral.core import access, mappers, run_queue
from corral.core.caller import Caller
from corral.core.errors import CorralError
from corral.core.pagination import read_offset_page
from corral.store import RunStepRecord, Store, Tx


class RunsService:
    def __init__(self, store: Store) -> None:
        self.store = store

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
        await self.store.write(lambda tx: run_queue.cancel(tx, access.run(tx, caller, run_id)))
        return models.CancelRunAccepted(run_id=run_id)

    async def guide_run(self, caller: Caller, run_id: str) -> models.GuideRunAccepted:
        def guide(tx: Tx) -> None:
            run = tx.get_run(run_id)
            if run is None or run.trigger_type != "message" or run.session_id is None:
                raise CorralError.not_found("queued_run_not_found", "queued run", run_id)
            caller.require_workspace(run.workspace_id)
            run_queue.guide(tx, run)

        await self.store.write(guide)
        return models.GuideRunAccepted(run_id=run_id)

    async def requeue_run(self, caller: Caller, run_id: str) -> models.RequeueRunAccepted:
        previous = await self.store.write(
            lambda tx: run_queue.requeue(tx, access.run(tx, caller, run_id), caller.subject_ref)
        )
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
