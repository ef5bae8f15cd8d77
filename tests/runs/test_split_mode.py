"""Split mode: an API process that only queues runs and a worker that executes them, sharing
one database. The worker learns of runs queued and cancels requested by the API process from
its commits; live events committed by the worker reach the API process's streams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from runs_support import create_session, create_workspace, send

from corral.testing.outbox import streamed_until
from corral.testing.waiting import wait_for_run


def test_a_worker_executes_what_the_api_queues_and_its_events_stream_live(
    start_server: Callable[..., Any], tmp_path: Any
) -> None:
    data_dir = tmp_path / "shared"
    api_server = start_server(data_dir=data_dir, run_worker=False)
    start_server(data_dir=data_dir, run_worker=True, sandbox_isolation="none")
    with api_server.client() as api:
        ses = create_session(api, create_workspace(api)["id"])
        with (
            httpx.Client(base_url=api_server.url, timeout=30) as streaming,
            streaming.stream("GET", f"/api/v1/sessions/{ses['id']}/events") as stream,
        ):
            run_id = send(api, ses["id"], "hello", script=["from the worker"])["runId"]
            seen = streamed_until(stream, "run.completed", deadline_s=30)
        run = wait_for_run(api, run_id)
    assert run["status"] == "completed"
    assert run["metadata"]["worker"]["id"]
    names = [name for name, _ in seen]
    assert names[0] == "run.queued" and "run.started" in names and names[-1] == "run.completed"
    deltas = "".join(d.get("delta", "") for name, d in seen if name == "message.delta")
    assert deltas == "from the worker"


def test_a_worker_starts_and_cancels_runs_on_the_api_processs_word(
    start_server: Callable[..., Any], tmp_path: Any
) -> None:
    data_dir = tmp_path / "shared"
    api_server = start_server(data_dir=data_dir, run_worker=False)
    # The worker's upkeep sweep never comes round within the test: it can only learn of the
    # run, and of the request to cancel it, from the API process's commits.
    worker = start_server(
        data_dir=data_dir,
        run_worker=True,
        sandbox_isolation="none",
        run_heartbeat_seconds=3600,
        run_stale_seconds=7200,
    )
    with api_server.client() as api:
        ses = create_session(api, create_workspace(api)["id"])
        long_job = [{"text": "never", "delayMs": 600_000}]
        run_id = send(api, ses["id"], "long job", script=long_job)["runId"]
        running = wait_for_run(api, run_id, "running")
        assert running["metadata"]["worker"]["id"] == worker.core.executor.worker["id"]
        assert api.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
        assert wait_for_run(api, run_id)["status"] == "cancelled"
        nxt = send(api, ses["id"], "next", script=["done"])["runId"]
        assert wait_for_run(api, nxt)["status"] == "completed"
