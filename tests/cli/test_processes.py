"""`corral serve`, `corral worker` and `corral chat` as separate processes, as a user runs
them: a chat against a served API, Ctrl-C interrupting the agent, runs executed by a worker
beside an API process that only queues them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from cli_support import WRITE_THEN_ANSWER, metadata
from processes import corral_serve, environment

from corral.testing.processes import running
from corral.testing.scripted_turns import gated
from corral.testing.waiting import wait_for
from corral_sdk import Corral

GATED = gated()


def test_chat_against_a_served_api(tmp_path: Path) -> None:
    with corral_serve(tmp_path / "data") as url:
        env = environment(CORRAL_URL=url)
        with running("chat", "--metadata", metadata(WRITE_THEN_ANSWER), env=env) as chat:
            chat.expect("you›")
            chat.type("write a note")
            chat.expect("⚙ Write")
            chat.expect("✓ Write")
            chat.expect("Wrote note.txt.")
            chat.expect("[completed:")
            chat.expect("you›")
            chat.close_input()  # Ctrl-D
            assert chat.wait() == 0, chat.output


def test_ctrl_c_interrupts_the_agent_and_the_chat_goes_on(tmp_path: Path) -> None:
    with corral_serve(tmp_path / "data") as url, Corral(url) as corral:
        ws = corral.workspaces.create(name="interrupted")
        env = environment(CORRAL_URL=url)
        args = ("chat", "--workspace", ws.id, "--metadata", metadata(GATED))
        with running(*args, env=env) as chat:
            chat.expect("you›")
            chat.type("wait at the gate")
            chat.expect("⚙ Bash")  # the run now waits in its tool, until cancelled
            chat.interrupt()
            chat.expect("interrupting the agent")
            chat.expect("run cancelled")
            chat.expect("you›")
            ws.sandbox.write("gate", "")
            chat.type("now go through")
            chat.expect("Through the gate.")
            chat.expect("[completed:")
            chat.expect("you›")
            chat.interrupt()  # at the prompt: leave
            assert chat.wait() == 0, chat.output
        (session,) = ws.sessions.list()
        assert [r.status.value for r in session.runs.list()] == ["completed", "cancelled"]


def test_a_worker_executes_the_runs_an_api_only_server_queues(tmp_path: Path) -> None:
    data = tmp_path / "data"
    fast = {"CORRAL_RUN_HEARTBEAT_SECONDS": "0.2", "CORRAL_SSE_PING_SECONDS": "0.2"}
    with corral_serve(data, CORRAL_RUN_WORKER="false", **fast) as url, Corral(url) as corral:
        session = corral.workspaces.create(name="split").sessions.create()
        queued = session.submit("hello", metadata={"script": ["Done by the worker."]})
        assert corral.runs.get(queued.run_id).status.value == "queued"  # nobody executes it
        worker_env = environment(
            CORRAL_DATA_DIR=str(data),
            CORRAL_SANDBOX_ISOLATION="none",
            CORRAL_RUN_WORKER="false",
            **fast,
        )
        with running("worker", env=worker_env) as worker:  # a worker ignores run_worker=false
            wait_for(
                lambda: corral.runs.get(queued.run_id).status.value == "completed",
                what="the worker to complete the run",
            )
            result = corral.runs.wait(queued.run_id)
            assert result.ok and result.text == "Done by the worker."
            executed_by = result.run.metadata["worker"]  # type: ignore[index]
            assert executed_by["pid"] == worker.popen.pid, json.dumps(executed_by)
            worker.popen.terminate()
            assert worker.wait() == 0, worker.output


def test_an_api_only_server_lists_the_standalone_worker_executing_its_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with corral_serve(data, CORRAL_RUN_WORKER="false") as url, Corral(url) as corral:
        session = corral.workspaces.create(name="split").sessions.create()
        long_job = [{"text": "never", "delayMs": 600_000}]
        queued = session.submit("wait", metadata={"script": long_job})
        worker_env = environment(CORRAL_DATA_DIR=str(data), CORRAL_SANDBOX_ISOLATION="none")
        with running("worker", env=worker_env) as worker:
            workers = wait_for(lambda: _workers(url)["activeWorkers"], what="a worker's lease")
            run = httpx.get(f"{url}/api/v1/runs/{queued.run_id}").json()
            assert [(w["workerId"], w["processKind"], w["state"]) for w in workers] == [
                (run["metadata"]["worker"]["id"], "standalone", "busy")
            ]
            assert _workers(url)["summary"]["standalone"] == 1
            worker.popen.terminate()
            assert worker.wait() == 0, worker.output


def _workers(url: str) -> dict[str, Any]:
    report = httpx.get(f"{url}/healthz").json()
    assert report["process"]["mode"] == "api_only", report
    return dict(report["worker"])
