"""Recovery after a process dies mid-run: a real server process is killed with SIGKILL and a
new one, started on the same data directory, fails or requeues what the dead one was running.
The servers keep the default heartbeat and stale timeout (5 s, 120 s): the new process sees at
start-up that the dead one is gone, without waiting for its heartbeat to go stale."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from runs_support import create_session, create_workspace, get_run, send, steps

from corral.testing.fake_openai import FakeOpenAI
from corral.testing.fake_provider import FakeReply
from corral.testing.postgres import server_database_env
from corral.testing.processes import Process, clean_environ, serving
from corral.testing.waiting import wait_for, wait_for_run


@contextmanager
def _serving(
    data_dir: Path, provider_env: dict[str, str] | None = None, **settings: str
) -> Iterator[tuple[Process, httpx.Client]]:
    """`corral serve` on `data_dir` (or its database), with `settings` (`CORRAL_<NAME>`)."""
    env = clean_environ(
        CORRAL_DATA_DIR=str(data_dir),
        **server_database_env(data_dir),
        CORRAL_SANDBOX_ISOLATION="none",
        **(provider_env or {}),
        **{f"CORRAL_{k.upper()}": v for k, v in settings.items()},
    )
    with serving(env=env) as (url, server), httpx.Client(base_url=url, timeout=30) as client:
        yield server, client


def _kill_mid_run(data_dir: Path, script: list[object]) -> tuple[str, str]:
    with _serving(data_dir) as (proc, api):
        ws = create_workspace(api)
        ses = create_session(api, ws["id"])
        run_id = send(api, ses["id"], "long job", script=script)["runId"]
        wait_for_run(api, run_id, "running")
        _kill(proc)
        return ses["id"], run_id


def _kill(server: Process) -> None:
    server.popen.send_signal(signal.SIGKILL)
    server.wait()


def test_a_run_of_a_killed_process_is_failed_by_default(tmp_path: Path) -> None:
    session_id, run_id = _kill_mid_run(tmp_path, [{"text": "never", "delayMs": 60_000}])
    with _serving(tmp_path) as (_, api):
        run = wait_for_run(api, run_id, "failed")
        assert run["errorCode"] == "run_recovery_failed"
        recovery = run["metadata"]["recovery"]
        assert recovery["state"] == "failed" and recovery["reason"] == "worker_exited"
        # recovery leaves the run requeueable, and the session free for new messages
        assert api.post(f"/api/v1/runs/{run_id}/requeue").status_code == 202
        api.post(f"/api/v1/runs/{run_id}/cancel")
        nxt = send(api, session_id, "again", script=["fine"])["runId"]
        assert wait_for_run(api, nxt)["status"] == "completed"


@pytest.mark.parametrize("policy", ["requeue_running"])
def test_a_run_of_a_killed_process_is_requeued_once_by_policy(tmp_path: Path, policy: str) -> None:
    _, run_id = _kill_mid_run(tmp_path, [{"text": "second time lucky", "delayMs": 2_000}])
    with _serving(tmp_path, run_recovery_policy=policy) as (_, api):
        run = wait_for_run(api, run_id, "completed")
        assert run["metadata"]["recoveryAttempts"] == 1
        assert run["metadata"]["recovery"]["state"] == "requeued"
        names = [s["name"] for s in steps(api, run_id) if s["stepType"] == "system"]
        assert names.count("run.started") == 2 and "run.requeued" in names
        assert get_run(api, run_id)["status"] == "completed"


def test_a_run_abandoned_more_often_than_allowed_is_quarantined_and_can_be_requeued(
    tmp_path: Path,
) -> None:
    policy = {"run_recovery_policy": "requeue_running", "run_recovery_max_attempts": "1"}
    _, run_id = _kill_mid_run(tmp_path, [{"text": "never", "delayMs": 60_000}])
    with _serving(tmp_path, **policy) as (proc, api):
        wait_for(lambda: _running(api, run_id, attempts=1), what="the requeued run to run again")
        _kill(proc)
    with _serving(tmp_path, **policy) as (_, api):
        run = wait_for_run(api, run_id, "failed")
        assert run["errorCode"] == "run_recovery_failed"
        assert run["metadata"]["recoveryAttempts"] == 1
        recovery = run["metadata"]["recovery"]
        assert recovery["state"] == "quarantined" and recovery["strategy"] == "requeue_running"
        resp = api.post(f"/api/v1/runs/{run_id}/requeue")
        assert resp.status_code == 202 and resp.json()["previousStatus"] == "failed"
        run = wait_for(lambda: _running(api, run_id, 2), what="the run requeued by hand to execute")
        assert run["metadata"]["recovery"]["recoveredBy"] == "manual_operator_requeue"
        api.post(f"/api/v1/runs/{run_id}/cancel")
        assert wait_for_run(api, run_id)["status"] == "cancelled"


def _running(api: httpx.Client, run_id: str, attempts: int) -> dict[str, object] | None:
    run = get_run(api, run_id)
    executing = run["status"] == "running" and run["metadata"]["recoveryAttempts"] == attempts
    return run if executing else None


def test_a_compaction_of_a_killed_process_is_failed_never_requeued(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        session_id = _kill_mid_compaction(tmp_path, fake)
        policy = {"run_recovery_policy": "requeue_running"}
        with _serving(tmp_path, fake.env(), **policy) as (_, api):
            runs = api.get(f"/api/v1/sessions/{session_id}/runs").json()["items"]
            compaction = next(r for r in runs if r["triggerRef"] == "compact")
            assert compaction["status"] == "failed"
            assert compaction["errorCode"] == "run_recovery_failed"
            assert compaction["metadata"]["recovery"]["state"] == "failed"
            resp = api.post(f"/api/v1/runs/{compaction['id']}/requeue")
            assert resp.status_code == 409, resp.text
            nxt = send(api, session_id, "still there?")["runId"]
            assert wait_for_run(api, nxt)["status"] == "completed"


def _kill_mid_compaction(data_dir: Path, fake: FakeOpenAI) -> str:
    with _serving(data_dir, fake.env()) as (proc, api):
        ses = create_session(api, create_workspace(api)["id"])
        for text in ("one", "two"):
            assert wait_for_run(api, send(api, ses["id"], text)["runId"])["status"] == "completed"
        fake.reply(FakeReply(text="never", initial_delay_s=60))
        compacting = threading.Thread(target=_compact, args=(api.base_url, ses["id"]))
        compacting.start()
        wait_for(lambda: len(fake.requests) == 3)  # the summary was asked for
        _kill(proc)
        compacting.join(30)
        return str(ses["id"])


def _compact(base_url: object, session_id: str) -> None:
    with (
        httpx.Client(base_url=str(base_url), timeout=30) as client,
        contextlib.suppress(httpx.TransportError),  # the server is killed mid-request
    ):
        client.post(f"/api/v1/sessions/{session_id}/compact", json={})
