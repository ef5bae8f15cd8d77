"""Recovery after a process dies mid-run: a real server process is killed with SIGKILL and a
new one, started on the same data directory, fails or requeues what the dead one was running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from runs_support import get_run, new_session, new_workspace, send, steps, wait_for, wait_status

Process = subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server_process(
    data_dir: Path, **settings: str
) -> Iterator[tuple[subprocess.Popen[bytes], httpx.Client]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update({"CORRAL_DATA_DIR": str(data_dir), "CORRAL_SANDBOX_ISOLATION": "none",
                "CORRAL_RUN_HEARTBEAT_SECONDS": "0.2", "CORRAL_RUN_STALE_SECONDS": "1",
                **{f"CORRAL_{k.upper()}": v for k, v in settings.items()}})  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "corral", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        wait_for("the server to answer", lambda: _answers(client) or proc.poll() is not None)
        assert proc.poll() is None, "the server process exited at start-up"
        yield proc, client
    finally:
        client.close()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(20)


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


def _kill_mid_run(data_dir: Path, script: list[object]) -> tuple[str, str]:
    with _server_process(data_dir) as (proc, api):
        ws = new_workspace(api)
        ses = new_session(api, ws["id"])
        run_id = send(api, ses["id"], "long job", script=script)["runId"]
        wait_status(api, run_id, "running")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        return ses["id"], run_id


def test_a_run_of_a_killed_process_is_failed_by_default(tmp_path: Path) -> None:
    session_id, run_id = _kill_mid_run(tmp_path, [{"text": "never", "delayMs": 60_000}])
    with _server_process(tmp_path) as (_, api):
        run = wait_status(api, run_id, "failed")
        assert run["errorCode"] == "run_recovery_failed"
        recovery = run["metadata"]["recovery"]
        assert recovery["state"] == "failed" and recovery["reason"] == "heartbeat_stale"
        # recovery leaves the run requeueable, and the session free for new messages
        assert api.post(f"/api/v1/runs/{run_id}/requeue").status_code == 202
        api.post(f"/api/v1/runs/{run_id}/cancel")
        nxt = send(api, session_id, "again", script=["fine"])["runId"]
        assert wait_status(api, nxt)["status"] == "completed"


@pytest.mark.parametrize("policy", ["requeue_running"])
def test_a_run_of_a_killed_process_is_requeued_once_by_policy(tmp_path: Path, policy: str) -> None:
    _, run_id = _kill_mid_run(tmp_path, [{"text": "second time lucky", "delayMs": 2_000}])
    with _server_process(tmp_path, run_recovery_policy=policy) as (_, api):
        run = wait_status(api, run_id, "completed")
        assert run["metadata"]["recoveryAttempts"] == 1
        assert run["metadata"]["recovery"]["state"] == "requeued"
        names = [s["name"] for s in steps(api, run_id) if s["stepType"] == "system"]
        assert names.count("run.started") == 2 and "run.requeued" in names
        assert get_run(api, run_id)["status"] == "completed"
