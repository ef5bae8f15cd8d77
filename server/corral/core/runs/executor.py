"""The run executor: takes runnable runs, executes up to `concurrency` of them at once (never two
of one session: the session queue makes at most one run of a session runnable), keeps their
heartbeats fresh, cancels them when asked, and recovers runs abandoned by a dead process.

It learns about work five ways: `wake(session_id)` from the services after a write that may
have made a run runnable or asked one to cancel; the end of one of its own runs (the session's
next run was dispatched in the same write); `look(session_id)` when another process signals it
(`signals`, through Redis); `notice_foreign_commit()` when another process sharing the database
has committed (runs it queued, cancels it requested: polled, or once after a Redis outage); and a
periodic sweep of the store, which also recovers runs abandoned by dead processes.

With `signals`, what a wake finds that this process cannot act on is passed on at once: a
runnable run it will not take (it executes no runs, or has no free slot) wakes one idle process,
and a run asked to stop that executes elsewhere is signalled to the process named in its
`metadata.worker`. A signal received is looked at here only, never passed on again.

It also keeps alive runs this process executes outside it (a compaction, `hosting`), even in
a process that executes no runs itself (`run_worker: false`), and executes the child runs of
SubAgent calls on their parent's slot (`execute_child`, see core/agent/delegation.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from corral import clock
from corral.bus import RunSignals
from corral.core.runs import worker_process
from corral.core.runs.lifecycle import (
    Ending,
    RecoveryPolicy,
    claim,
    finish,
    heartbeat,
    recover_stale,
)
from corral.store import RunRecord, Store, Tx

log = logging.getLogger("corral.runs")

Perform = Callable[[RunRecord], Coroutine[Any, Any, Ending]]
# What the services call after a write that may concern a session's runs.
Wake = Callable[[str], Awaitable[None]]
StopReason = Literal["cancel", "shutdown"]
RUNNABLE_BATCH = 1000  # runnable runs read at one look; more wait for slots anyway


@dataclass(frozen=True)
class ExecutorSettings:
    concurrency: int = 64
    heartbeat_s: float = 5.0
    stale_s: float = 120.0
    recovery_policy: RecoveryPolicy = "fail"
    recovery_max_attempts: int = 1
    process_kind: worker_process.ProcessKind = "embedded"


@dataclass
class _Execution:
    run: RunRecord
    task: asyncio.Task[Ending]
    stop_reason: StopReason | None = None


@dataclass
class RunExecutor:
    store: Store
    perform: Perform
    settings: ExecutorSettings = field(default_factory=ExecutorSettings)
    signals: RunSignals | None = None  # other processes (Redis); None: they poll the store

    def __post_init__(self) -> None:
        self.worker = worker_process.identity(self.settings.process_kind)
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._waiting: set[str] = set()
        self._executing: dict[str, _Execution] = {}
        self._hosted: set[str] = set()  # runs executing here outside the executor
        self._free = self.settings.concurrency  # execution slots not taken
        self._slot_freed = asyncio.Event()
        self._started = False
        self._loops: list[asyncio.Task[None]] = []
        self._finishing: set[asyncio.Task[None]] = set()

    # -- life of the executor ---------------------------------------------------------

    async def start(self, execute: bool = True) -> None:
        """Keep hosted runs alive; with `execute`, also take runnable runs and recover those
        of dead processes."""
        if execute:
            await self._sweep()
            self._started = True
            self._loops.append(
                asyncio.create_task(self._dispatch_loop(), name="corral-run-dispatch")
            )
        self._loops.append(asyncio.create_task(self._upkeep_loop(), name="corral-run-upkeep"))

    async def stop(self) -> None:
        self._started = False
        for loop_task in self._loops:
            loop_task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        for execution in list(self._executing.values()):
            self._stop(execution, "shutdown")
        if self._finishing:
            await asyncio.wait(self._finishing, timeout=10)

    @property
    def executes_runs(self) -> bool:
        """Whether this process takes runnable runs (`run_worker`), once started."""
        return self._started

    def slots_taken(self) -> int:
        """Execution slots taken now: by a run executing, being claimed or being ended (a
        SubAgent's child run shares its parent's)."""
        return self.settings.concurrency - self._free

    # -- signals from the services ----------------------------------------------------

    async def wake(self, session_id: str) -> None:
        """Look at a session again: start its runnable run, stop a run asked to cancel, and
        signal what concerns other processes. Without signals, an executor that is not
        running (`run_worker: false`) leaves it to the workers (they poll)."""
        await self._look(session_id, self.signals)

    async def look(self, session_id: str) -> None:
        """A signal from another process: look at the session, for this process only."""
        await self._look(session_id, None)

    async def wait_for_free_slot(self) -> None:
        """Return once an execution slot is free (waiting for signalled work is then useful)."""
        while self._free <= 0:
            self._slot_freed.clear()
            await self._slot_freed.wait()

    async def _look(self, session_id: str, signals: RunSignals | None) -> None:
        if not self._started and signals is None:
            return
        live = await self.store.read(
            lambda tx: tx.active_runs(session_id, include_cancel_requested=True)
        )
        for run in live:
            self._consider(run, signals)

    async def notice_foreign_commit(self) -> None:
        """Another process committed: take the runs it may have made runnable and stop those it
        may have asked to cancel (two indexed reads by status and by id)."""
        if not self._started:
            return
        ids = list(self._executing)

        def look(tx: Tx) -> tuple[list[str], list[str]]:
            return tx.runnable_run_ids(RUNNABLE_BATCH), tx.runs_to_stop(ids) if ids else []

        runnable, to_stop = await self.store.read(look)
        self._take(runnable)
        for run_id in to_stop:
            if (execution := self._executing.get(run_id)) is not None:
                self._stop(execution, "cancel")

    @asynccontextmanager
    async def hosting(self, run: RunRecord) -> AsyncIterator[None]:
        """For a run this process executes outside the executor (a compaction): its heartbeat
        is kept fresh and recovery here spares it while the block runs; then its session is
        looked at again, since its end may have dispatched a pending run."""
        self._hosted.add(run.id)
        try:
            yield
        finally:
            self._hosted.discard(run.id)
            if run.session_id is not None:
                await self.wake(run.session_id)

    def _consider(self, run: RunRecord, signals: RunSignals | None) -> None:
        execution = self._executing.get(run.id)
        if execution is not None:
            if run.cancel_requested_at is not None:
                self._stop(execution, "cancel")
        elif run.status == "queued" and run.cancel_requested_at is None:
            if self._started:
                self._submit(run.id)
            if signals is not None and run.session_id and not (self._started and self._free):
                signals.runnable(run.session_id)
        elif run.cancel_requested_at is not None and signals is not None and run.session_id:
            worker = (run.metadata or {}).get("worker")
            worker_id = worker.get("id") if isinstance(worker, dict) else None
            if isinstance(worker_id, str) and worker_id != self.worker["id"]:
                signals.stop(worker_id, run.session_id)

    def _take(self, runnable: list[str]) -> None:
        for run_id in runnable:
            if run_id not in self._executing:
                self._submit(run_id)

    def _submit(self, run_id: str) -> None:
        if run_id not in self._waiting:
            self._waiting.add(run_id)
            self._ready.put_nowait(run_id)

    # -- a run started in the write that creates it ----------------------------------

    def reserve(self) -> bool:
        """Take an execution slot for a run about to be created runnable, so the service can
        claim it (`lifecycle.claim`) in the same write: one write and a hop saved per run.
        Give the slot back with `release`, or hand the claimed run over with `launch`."""
        return self._started and self._take_slot()

    def release(self) -> None:
        self._free += 1
        self._slot_freed.set()

    def launch(self, run: RunRecord) -> None:
        self._track(self._run(run), run.id)

    def _take_slot(self) -> bool:
        if self._free == 0:
            return False
        self._free -= 1
        return True

    def _track(self, job: Coroutine[Any, Any, None], run_id: str) -> None:
        task = asyncio.create_task(job, name=f"corral-run-{run_id}")
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    def _stop(self, execution: _Execution, reason: StopReason) -> None:
        if execution.stop_reason is None:
            execution.stop_reason = reason
            execution.task.cancel()

    # -- executing --------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while True:
            run_id = await self._ready.get()
            while not self._take_slot():
                self._slot_freed.clear()
                await self._slot_freed.wait()
            self._waiting.discard(run_id)
            self._track(self._claim_and_run(run_id), run_id)

    async def _claim_and_run(self, run_id: str) -> None:
        try:
            run = await self.store.write(lambda tx: claim(tx, run_id, self.worker))
        except Exception:
            log.exception("run %s could not be claimed", run_id)
            run = None
        if run is None:
            self.release()
        else:
            await self._run(run)

    async def _run(self, run: RunRecord) -> None:
        """Execute a claimed run to its end, then free its slot."""
        try:
            await self._execute(run, "shutdown")  # only the executor's teardown cancels this
        except Exception:
            log.exception("run %s could not be executed", run.id)
        finally:
            self.release()

    async def execute_child(self, run: RunRecord) -> RunRecord | None:
        """Execute a delegated run, claimed in the write that created it, to its end; returns
        it ended. It runs on its parent's slot, never waiting for one: a parent holding the
        last slot cannot deadlock on its child. It is heartbeaten, cancellable and stopped at
        shutdown like any run; cancelling the caller (the parent's tool call) cancels it, and
        the cancellation goes on once the child's end is written."""
        ended, caller_stopped = await self._execute(run, "cancel")
        if caller_stopped:
            raise asyncio.CancelledError
        return ended

    async def _execute(
        self, run: RunRecord, caller_stop: StopReason
    ) -> tuple[RunRecord | None, bool]:
        execution = _Execution(run, asyncio.create_task(self.perform(run)))
        self._executing[run.id] = execution
        try:
            ending, caller_stopped = await self._outcome(execution, caller_stop)
        finally:
            del self._executing[run.id]
        ended = await self.store.write(lambda tx: finish(tx, run.id, ending))
        if ended is not None and ended.session_id is not None:
            await self.wake(ended.session_id)
        return ended, caller_stopped

    async def _outcome(self, execution: _Execution, caller_stop: StopReason) -> tuple[Ending, bool]:
        """The run's ending, and whether the caller was cancelled meanwhile: the run is then
        stopped for `caller_stop` (unless already stopped) and its ending still returned."""
        try:
            return await asyncio.shield(execution.task), False
        except asyncio.CancelledError:
            caller = asyncio.current_task()
            caller_stopped = caller is not None and caller.cancelling() > 0
            if caller_stopped or execution.stop_reason is None:
                self._stop(execution, caller_stop)
            try:
                return await execution.task, caller_stopped
            except asyncio.CancelledError:
                return _stopped(execution.stop_reason), caller_stopped
        except Exception as exc:
            log.exception("run %s failed unexpectedly", execution.run.id)
            failed = Ending("failed", "internal_error", f"the run failed unexpectedly: {exc!r}")
            return failed, False

    # -- upkeep -----------------------------------------------------------------------

    async def _upkeep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            try:
                await self._beat()
                if self._started:
                    await self._sweep()
            except Exception:
                log.exception("run upkeep failed; retrying at the next beat")

    async def _beat(self) -> None:
        ids = [*self._executing, *self._hosted]
        if not ids:
            return
        for run_id in await self.store.write(lambda tx: heartbeat(tx, ids)):
            execution = self._executing.get(run_id)
            if execution is not None:
                self._stop(execution, "cancel")

    async def _sweep(self) -> None:
        """Recover runs whose process died, then pick up runnable runs queued elsewhere."""
        stale_before = clock.now() - timedelta(seconds=self.settings.stale_s)
        s, alive = self.settings, {*self._executing, *self._hosted}

        def recover(tx: Tx) -> list[str]:
            recover_stale(
                tx,
                stale_before,
                s.recovery_policy,
                s.recovery_max_attempts,
                exclude=alive,
                ended=worker_process.has_ended,
            )
            return tx.runnable_run_ids(RUNNABLE_BATCH)

        self._take(await self.store.write(recover))


def _stopped(reason: StopReason | None) -> Ending:
    if reason == "cancel":
        return Ending("cancelled")
    return Ending(
        "failed",
        "server_shutdown",
        "the server stopped while this run was executing; requeue it to run it again",
        metadata={
            "recovery": {
                "state": "failed",
                "recoveredBy": "server_shutdown",
                "recoveredAt": clock.now().isoformat().replace("+00:00", "Z"),
            }
        },
    )
