"""Processes linked through Redis (CORRAL_REDIS_URL) on one SQLite data dir, as a user runs
them: an API process that only queues runs (`run_worker: false`) and a `corral worker`.

In the split tests no process polls the database (no foreign-commit poll, no safety poll, no
upkeep sweep or heartbeat within the test), so whatever crosses from one process to the other
(a run to take, a request to stop it, the events it commits) crossed through Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from cli_support import WRITE_THEN_ANSWER
from processes import corral_serve, environment
from redis_support import (
    NO_POLLING,
    checks,
    connection_ids,
    new_session,
    open_reader,
    own_redis,
    send,
    shared_redis,
)

from corral.testing.outbox import frames_until
from corral.testing.processes import Process, running
from corral.testing.waiting import wait_for, wait_for_run

NEVER_ENDS = [{"text": "never", "delayMs": 600_000}]


@contextmanager
def split(data: Path, **settings: str) -> Iterator[tuple[httpx.Client, Process]]:
    """An API-only `corral serve` and a `corral worker` on `data`, both linked to Redis once
    this yields: a client of the API process, and the worker."""
    with corral_serve(data, CORRAL_RUN_WORKER="false", **settings) as url:
        env = environment(CORRAL_DATA_DIR=str(data), CORRAL_SANDBOX_ISOLATION="none", **settings)
        with running("worker", env=env) as worker, httpx.Client(base_url=url, timeout=30) as api:
            worker.expect("linked to Redis")
            wait_for(lambda: checks(api)["redisEvents"] == "up", what="the API process's link")
            yield api, worker


@contextmanager
def linked_without_polling(data: Path) -> Iterator[tuple[httpx.Client, Process]]:
    """`split` on the shared Redis, with no process polling the database."""
    with shared_redis() as redis, split(data, **redis.settings(), **NO_POLLING) as linked:
        yield linked


def test_a_reader_on_the_api_process_sees_every_event_of_a_run_on_the_worker(
    tmp_path: Path,
) -> None:
    with linked_without_polling(tmp_path / "data") as (api, worker):
        session_id = new_session(api)
        with api.stream("GET", f"/api/v1/sessions/{session_id}/events") as stream:
            run_id = send(api, session_id, WRITE_THEN_ANSWER)["runId"]
            live = frames_until(stream.iter_lines(), "run.completed")
        stored = api.get(f"/api/v1/sessions/{session_id}/events", params={"follow": "false"})
        assert live == frames_until(iter(stored.text.splitlines()), "run.completed")
        names = [event for _, event, _ in live]
        assert names[0] == "run.queued" and {"tool.started", "tool.completed"} <= set(names)
        run = api.get(f"/api/v1/runs/{run_id}").json()
        assert run["metadata"]["worker"]["pid"] == worker.popen.pid


def test_guide_interrupt_and_cancel_sent_to_the_api_process_stop_the_run_on_the_worker(
    tmp_path: Path,
) -> None:
    with linked_without_polling(tmp_path / "data") as (api, worker):
        session_id = new_session(api)

        def executing_on_the_worker() -> str:
            run_id = str(send(api, session_id, NEVER_ENDS)["runId"])
            run = wait_for_run(api, run_id, "running")
            assert run["metadata"]["worker"]["pid"] == worker.popen.pid
            return run_id

        first = executing_on_the_worker()
        guided = send(api, session_id, ["guided"])
        assert guided["delivery"] == "session_queue"
        assert api.post(f"/api/v1/runs/{guided['runId']}/guide").status_code == 202
        assert wait_for_run(api, first)["status"] == "cancelled"
        assert wait_for_run(api, guided["runId"])["status"] == "completed"

        second = executing_on_the_worker()
        urgent = send(api, session_id, ["urgent"], runningRunBehavior="interrupt")
        assert wait_for_run(api, second)["status"] == "cancelled"
        assert wait_for_run(api, urgent["runId"])["status"] == "completed"

        third = executing_on_the_worker()
        assert api.post(f"/api/v1/runs/{third}/cancel").status_code == 202
        assert wait_for_run(api, third)["status"] == "cancelled"


def test_a_thousand_readers_come_and_go_without_a_redis_subscription_or_connection_left(
    tmp_path: Path,
) -> None:
    sessions, readers_each = 250, 4
    with (
        shared_redis() as redis,
        corral_serve(tmp_path / "data", **redis.settings()) as url,
        httpx.Client(base_url=url, timeout=30) as api,
    ):
        session_ids = [new_session(api) for _ in range(sessions)]
        wait_for(lambda: checks(api)["redisEvents"] == "up", what="the server's link")
        before = connection_ids(redis)
        assert redis.session_channels() == []

        async def come_and_go() -> None:
            port = int(url.rsplit(":", 1)[1])
            readers = await asyncio.gather(
                *(open_reader(port, s) for s in session_ids for _ in range(readers_each))
            )
            channels = await asyncio.to_thread(
                wait_for,
                lambda: len(redis.session_channels()) == sessions,
                what="one channel per followed session",
            )
            assert channels
            for channel in redis.session_channels():
                assert redis.listeners(channel) == 1  # the server's one connection
            assert connection_ids(redis) == before  # readers open no connection to Redis
            for writer in readers:
                writer.close()
            await asyncio.gather(*(w.wait_closed() for w in readers), return_exceptions=True)

        asyncio.run(come_and_go())
        wait_for(lambda: redis.session_channels() == [], what="every session channel left")
        assert connection_ids(redis) == before
        assert api.get("/healthz").json()["checks"]["redisEvents"] == "up"


def test_redis_down_at_start_then_lost_then_back_costs_no_run_and_no_event(
    tmp_path: Path,
) -> None:
    """Without Redis the processes poll the database (the default 0.25 s), so runs and events
    still cross; once Redis answers they link, and lose it and link again as it comes and goes."""
    with own_redis(tmp_path) as redis:
        settings = {"CORRAL_REDIS_URL": redis.url, "CORRAL_SSE_PING_SECONDS": "1"}
        data = tmp_path / "data"
        with corral_serve(data, CORRAL_RUN_WORKER="false", **settings) as url:
            env = environment(CORRAL_DATA_DIR=str(data), CORRAL_SANDBOX_ISOLATION="none")
            with (
                running("worker", env={**env, **settings}) as worker,
                httpx.Client(base_url=url, timeout=30) as api,
            ):
                worker.expect("is unreachable; serving without it")  # unreachable: it starts anyway
                worker.expect("executing runs")
                health = api.get("/healthz").json()
                assert health["status"] == "degraded"
                assert health["storage"] == {
                    "primary": "sqlite",
                    "events": "redis",
                    "runQueue": "redis",
                }
                assert health["checks"]["redisEvents"] == "down"
                assert health["checks"]["redisRunQueue"] == "down"
                ready = api.get("/readyz")
                assert ready.status_code == 200, ready.text  # ready: it polls meanwhile

                session_id = new_session(api)
                with api.stream("GET", f"/api/v1/sessions/{session_id}/events") as stream:
                    lines = stream.iter_lines()
                    _run_and_see_it_complete(api, session_id, lines, "without Redis")
                    redis.start()
                    worker.expect("linked to Redis")
                    wait_for(lambda: checks(api)["redisEvents"] == "up", what="a link")
                    _run_and_see_it_complete(api, session_id, lines, "with Redis")
                    redis.kill()
                    wait_for(lambda: checks(api)["redisEvents"] == "down", what="link lost")
                    _run_and_see_it_complete(api, session_id, lines, "Redis lost")
                    redis.start()
                    worker.expect("linked to Redis")
                    wait_for(lambda: checks(api)["redisRunQueue"] == "up", what="relinked")
                    _run_and_see_it_complete(api, session_id, lines, "Redis back")
                stored = api.get(f"/api/v1/sessions/{session_id}/events?follow=false").text
                ids = [int(line[4:]) for line in stored.splitlines() if line.startswith("id: ")]
                assert ids == list(range(1, len(ids) + 1))
                assert worker.popen.poll() is None


def _run_and_see_it_complete(
    api: httpx.Client, session_id: str, lines: Iterator[str], text: str
) -> None:
    run_id = send(api, session_id, [text])["runId"]
    seen = frames_until(lines, "run.completed")
    assert seen[-1][2]["runId"] == run_id
    deltas = "".join(d.get("delta", "") for _, event, d in seen if event == "message.delta")
    assert deltas == text
