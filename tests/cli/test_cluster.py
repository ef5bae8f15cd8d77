"""A cluster as README "Scaling out" runs it: two API processes that only queue runs
(`CORRAL_RUN_WORKER=false`) and two `corral worker`s, all on one fresh PostgreSQL schema and one
Redis (under a prefix of the test's own), started at once on the empty schema (so their
migrations meet under the advisory lock). Everything is proved through the public API.

The cluster of most tests polls nothing (`NO_POLLING`: no foreign-commit poll, no safety poll,
no heartbeat or sweep within a test), so a run reaching a worker, a cancel reaching the worker
executing the run, and events reaching a reader on another process all crossed through Redis.
The kill -9 test starts a cluster whose workers sweep every half second, as recovery needs.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from processes import server_environment
from redis_support import (
    NO_POLLING,
    PrefixedRedis,
    checks,
    connection_ids,
    new_session,
    new_workspace_session,
    open_reader,
    send,
    shared_redis,
)

from corral.testing.outbox import Frame, frames_until
from corral.testing.postgres import TestDatabase
from corral.testing.processes import Process, ready, running
from corral.testing.scripted_turns import gated
from corral.testing.waiting import DEADLINE_S, wait_for, wait_for_run


@dataclass
class Cluster:
    apis: list[httpx.Client]  # one client per API process
    workers: list[Process]
    redis: PrefixedRedis

    def worker_pids(self) -> set[int]:
        return {w.popen.pid for w in self.workers}

    def worker_of(self, run: dict[str, Any]) -> Process:
        pid = run["metadata"]["worker"]["pid"]
        return next(w for w in self.workers if w.popen.pid == pid)


@contextmanager
def cluster(
    db: TestDatabase, redis: PrefixedRedis, data: Path, **settings: str
) -> Iterator[Cluster]:
    """Two API processes and two workers on a new schema of `db`, linked through `redis`,
    once each answers and has linked to Redis."""
    database = {"CORRAL_DATABASE_URL": db.schema_url("cluster")}
    env = server_environment(data, **database, **redis.settings(), **settings)
    with ExitStack() as stack:
        api_env = {**env, "CORRAL_RUN_WORKER": "false"}
        serving = [stack.enter_context(running("serve", "--port", "0", env=api_env)) for _ in "ab"]
        workers = [stack.enter_context(running("worker", env=env)) for _ in "ab"]
        apis = [
            stack.enter_context(httpx.Client(base_url=ready(p), timeout=DEADLINE_S))
            for p in serving
        ]
        for worker in workers:
            worker.expect("linked to Redis")
        for api in apis:
            wait_for(lambda api=api: checks(api)["redisRunQueue"] == "up", what="an API link")
            assert api.get("/healthz").json()["storage"]["primary"] == "postgres"
        yield Cluster(apis, workers, redis)


@pytest.fixture(scope="module")
def quiet(postgres_db: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster in which nothing polls (see the module's docstring)."""
    data = tmp_path_factory.mktemp("cluster")
    with shared_redis() as redis, cluster(postgres_db, redis, data, **NO_POLLING) as linked:
        yield linked


def test_a_hundred_runs_over_twenty_sessions_complete_serially_and_in_order(
    quiet: Cluster,
) -> None:
    sessions = [new_session(quiet.apis[i % 2]) for i in range(20)]
    sent: dict[str, list[str]] = {s: [] for s in sessions}
    for turn in range(5):
        for i, session_id in enumerate(sessions):
            api = quiet.apis[(i + turn) % 2]  # a session's messages reach both API processes
            answer = [{"text": f"answer {turn}", "delayMs": 10}]
            sent[session_id].append(send(api, session_id, answer)["runId"])
    executed_by = set()
    for session_id, run_ids in sent.items():
        runs = [wait_for_run(quiet.apis[0], run_id) for run_id in run_ids]
        assert [r["status"] for r in runs] == ["completed"] * 5, runs
        for earlier, later in itertools.pairwise(runs):
            assert _at(earlier["endedAt"]) <= _at(later["startedAt"]), (earlier, later)
        executed_by |= {r["metadata"]["worker"]["pid"] for r in runs}
        answers = _messages(quiet.apis[1], session_id, "assistant")
        assert answers == [f"answer {turn}" for turn in range(5)], answers
    assert executed_by <= quiet.worker_pids()


def test_a_reader_on_one_api_process_sees_every_event_of_runs_on_any_worker(
    quiet: Cluster,
) -> None:
    reading, sending = quiet.apis
    session_id = new_session(reading)
    runs = 6
    with reading.stream("GET", f"/api/v1/sessions/{session_id}/events") as stream:
        run_ids = [send(sending, session_id, [f"answer {i}"])["runId"] for i in range(runs)]
        live = _frames_of_runs(stream.iter_lines(), runs)
    stored = sending.get(f"/api/v1/sessions/{session_id}/events", params={"follow": "false"})
    assert live == _frames_of_runs(iter(stored.text.splitlines()), runs)
    assert [int(cursor) for cursor, _, _ in live] == list(range(1, len(live) + 1))
    completed = [data["runId"] for _, event, data in live if event == "run.completed"]
    assert completed == run_ids
    pids = {reading.get(f"/api/v1/runs/{r}").json()["metadata"]["worker"]["pid"] for r in run_ids}
    assert pids <= quiet.worker_pids()


def test_a_cancel_sent_to_the_other_api_process_stops_the_run_on_a_worker(
    quiet: Cluster,
) -> None:
    queuing, cancelling = quiet.apis
    session_id = new_session(queuing)
    run_id = send(queuing, session_id, gated())["runId"]
    run = wait_for_run(cancelling, run_id, "running")
    assert run["metadata"]["worker"]["pid"] in quiet.worker_pids()
    assert cancelling.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
    assert wait_for_run(queuing, run_id)["status"] == "cancelled"
    after = send(cancelling, session_id, ["after the cancel"])["runId"]
    assert wait_for_run(queuing, after)["status"] == "completed"


def test_kill_9_of_a_worker_mid_run_loses_nothing_and_leaves_nothing_stuck(
    postgres_db: TestDatabase, tmp_path: Path
) -> None:
    """The killed worker's run is requeued (`requeue_running`) by the other worker, which sees
    at its next sweep that the process recorded on the run has ended (`worker_exited`)."""
    recovering = {
        "CORRAL_RUN_HEARTBEAT_SECONDS": "0.5",
        "CORRAL_RUN_RECOVERY_POLICY": "requeue_running",
    }
    with shared_redis() as redis, cluster(postgres_db, redis, tmp_path, **recovering) as c:
        workspace_id, session_id = new_workspace_session(c.apis[0])
        interrupted = send(c.apis[0], session_id, gated())["runId"]
        behind = send(c.apis[1], session_id, ["behind it"])["runId"]
        victim = c.worker_of(wait_for_run(c.apis[1], interrupted, "running"))
        victim.popen.send_signal(signal.SIGKILL)
        victim.wait()
        # Its command outlived it (nothing confines it here): the gate lets it, and the run
        # once requeued, end.
        gate = {"path": "gate", "content": ""}
        opened = c.apis[1].put(f"/api/v1/sandboxes/{workspace_id}/files/content", json=gate)
        assert opened.status_code in (200, 201), opened.text

        recovered = wait_for_run(c.apis[0], interrupted)
        assert recovered["status"] == "completed", recovered
        assert recovered["metadata"]["recovery"]["reason"] == "worker_exited"
        assert recovered["metadata"]["recovery"]["state"] == "requeued"
        assert recovered["metadata"]["worker"]["pid"] != victim.popen.pid
        later = wait_for_run(c.apis[1], behind)
        assert later["status"] == "completed"
        assert _at(recovered["endedAt"]) <= _at(later["startedAt"])
        last = send(c.apis[0], session_id, ["and the next one"])["runId"]
        assert wait_for_run(c.apis[1], last)["status"] == "completed"

        stored = c.apis[0].get(f"/api/v1/sessions/{session_id}/events?follow=false").text
        ids = [int(line[4:]) for line in stored.splitlines() if line.startswith("id: ")]
        assert ids == list(range(1, len(ids) + 1))
        answers = _messages(c.apis[1], session_id, "assistant")
        assert answers[-3:] == ["Through the gate.", "behind it", "and the next one"], answers
        assert len(_messages(c.apis[1], session_id, "user")) == 3


def test_readers_that_come_and_go_leave_no_redis_subscription_or_connection(
    quiet: Cluster,
) -> None:
    sessions, readers_each = 50, 2  # on each API process: 100 readers (200 in all)
    session_ids = [new_session(quiet.apis[0]) for _ in range(sessions)]
    before = connection_ids(quiet.redis)
    assert quiet.redis.session_channels() == []
    ports = [int(str(api.base_url).rstrip("/").rsplit(":", 1)[1]) for api in quiet.apis]

    def each_process_listens_once() -> bool:
        """One channel per followed session, each with one connection of each API process."""
        channels = quiet.redis.session_channels()
        listeners = [quiet.redis.listeners(channel) for channel in channels]
        assert all(n <= len(ports) for n in listeners), listeners  # never one per reader
        return len(channels) == sessions and all(n == len(ports) for n in listeners)

    async def come_and_go() -> None:
        readers = await asyncio.gather(
            *(open_reader(p, s) for p in ports for s in session_ids for _ in range(readers_each))
        )
        await asyncio.to_thread(
            wait_for, each_process_listens_once, what="each process listening to each session"
        )
        assert connection_ids(quiet.redis) == before  # readers open no connection to Redis
        for writer in readers:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in readers), return_exceptions=True)

    asyncio.run(come_and_go())
    wait_for(lambda: quiet.redis.session_channels() == [], what="every session channel left")
    assert connection_ids(quiet.redis) == before


def _frames_of_runs(lines: Iterator[str], runs: int) -> list[Frame]:
    """The frames up to the `runs`-th `run.completed`."""
    return [frame for _ in range(runs) for frame in frames_until(lines, "run.completed")]


def _messages(api: httpx.Client, session_id: str, role: str) -> list[str]:
    """The text of the session's messages of `role`, oldest first."""
    page = api.get(f"/api/v1/sessions/{session_id}/messages", params={"pageSize": 100})
    assert page.status_code == 200, page.text
    return [_text(m["content"]) for m in page.json()["items"] if m["role"] == role]


def _text(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return "".join(part["text"] for part in content if part["type"] == "text")


def _at(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)
