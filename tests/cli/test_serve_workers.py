"""`corral serve --workers N`: one port served by N Corral processes under a supervisor, as a
user runs it. Which process answers is the kernel's choice; a test reaches a given one through
a connection it keeps (`Pinned`), each answer checked to come over that same connection."""

from __future__ import annotations

import os
import re
import signal
import socket
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from processes import environment, server_environment, sleeping
from typer.testing import CliRunner

from corral.cli import app
from corral.testing.outbox import streamed_until
from corral.testing.processes import CORRAL, ready, running, running_processes, serving
from corral.testing.waiting import DEADLINE_S, wait_for, wait_for_run

SERVE_CLUSTER = Path(__file__).resolve().parents[2] / "scripts" / "serve-cluster"


class Pinned(httpx.Client):
    """A client on one connection, so one server process: `worker` is that process's worker
    id, as its /healthz reports it."""

    def __init__(self, url: str) -> None:
        super().__init__(base_url=url, timeout=DEADLINE_S, limits=httpx.Limits(max_connections=1))
        self._local: Any = None
        self.worker: str = self.get("/healthz").json()["worker"]["localSlots"][0]["workerId"]

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = super().send(request, **kwargs)
        local = response.extensions["network_stream"].get_extra_info("client_addr")
        self._local = self._local or local
        assert local == self._local, "the connection changed: another process may answer"
        return response


def pinned_apart(url: str, count: int) -> list[Pinned]:
    """Clients on `count` different server processes."""
    found: dict[str, Pinned] = {}

    def another() -> bool:
        client = Pinned(url)
        if client.worker in found:
            client.close()
        else:
            found[client.worker] = client
        return len(found) == count

    wait_for(another, what=f"connections to {count} different server processes")
    return list(found.values())


def children(url: str) -> set[int]:
    """The pids of the server processes of the supervisor serving `url`."""
    port = url.rsplit(":", 1)[1].encode()
    return {
        proc.pid
        for proc, argv in running_processes()
        if b"--listen-fd" in argv and argv[argv.index(b"--port") + 1] == port
    }


def session_on(api: httpx.Client) -> tuple[str, str]:
    """A new workspace and a session in it: their ids."""
    ws = api.post("/api/v1/workspaces", json={"name": "w", "runtime": "default"})
    assert ws.status_code == 201, ws.text
    ses = api.post(f"/api/v1/workspaces/{ws.json()['id']}/sessions", json={})
    assert ses.status_code == 201, ses.text
    return ws.json()["id"], ses.json()["id"]


def send(api: httpx.Client, session_id: str, *script: Any) -> str:
    """Send a message the scripted model answers with `script`; the run's id."""
    body = {"content": "hi", "metadata": {"script": list(script)}}
    sent = api.post(f"/api/v1/sessions/{session_id}/messages", json=body)
    assert sent.status_code == 202, sent.text
    run_id: str = sent.json()["runId"]
    return run_id


def test_both_processes_answer_and_a_run_on_one_streams_to_a_reader_on_the_other(
    tmp_path: Path,
) -> None:
    with serving("--workers", "2", env=server_environment(tmp_path / "data")) as (url, _):
        reader, sender = pinned_apart(url, 2)
        for client in (reader, sender):
            health = client.get("/healthz").json()
            assert health["process"]["mode"] == "api_embedded_worker"
            assert [w["workerId"] for w in health["worker"]["activeWorkers"]] == [client.worker]
        _, session_id = session_on(sender)
        with reader.stream("GET", f"/api/v1/sessions/{session_id}/events") as stream:
            run_id = send(sender, session_id, "Hello from the other process.")
            seen = streamed_until(stream, "run.completed", deadline_s=DEADLINE_S)
        run = wait_for_run(sender, run_id)
    assert run["status"] == "completed"
    assert run["metadata"]["worker"]["id"] == sender.worker  # executed where it was sent
    deltas = "".join(d.get("delta", "") for name, d in seen if name == "message.delta")
    assert deltas == "Hello from the other process."
    assert all(d.get("runId") == run_id for name, d in seen if name.startswith("run."))


def test_a_killed_process_is_replaced_its_run_recovered_its_commands_ended_siblings_spared(
    tmp_path: Path,
) -> None:
    marker = f"8{uuid.uuid4().int % 10**6:06d}"  # sleep's argument: unique to this test
    with serving("--workers", "2", env=server_environment(tmp_path / "data")) as (url, server):
        kept, doomed = pinned_apart(url, 2)
        for number, client in enumerate((kept, doomed), 1):
            ws_id, session_id = session_on(client)
            command = {"command": f"sleep {marker}{number}"}
            started = client.post(f"/api/v1/sandboxes/{ws_id}/commands/background", json=command)
            assert started.status_code == 200, started.text
        stuck = send(doomed, session_id, {"text": "never", "delayMs": 600_000})
        worker = wait_for_run(doomed, stuck, "running")["metadata"]["worker"]
        assert worker["id"] == doomed.worker
        both = {f"{marker}1".encode(), f"{marker}2".encode()}
        wait_for(lambda: sleeping(marker) == both, what="both commands to run")
        before = children(url)
        assert len(before) == 2 and worker["pid"] in before

        os.kill(worker["pid"], signal.SIGKILL)
        server.expect(f"(pid {worker['pid']}) was killed by SIGKILL; starting another in")
        assert httpx.get(f"{url}/healthz").status_code == 200  # meanwhile, the sibling answers
        server.expect("serves")  # the replacement
        # Its start reaped what the dead process left running, not its sibling's command.
        wait_for(lambda: sleeping(marker) == {f"{marker}1".encode()}, what="the orphan's end")
        assert "left running by a server that died" in server.output
        recovered = wait_for_run(kept, stuck)
        assert recovered["status"] == "failed"
        assert recovered["metadata"]["recovery"]["reason"] == "worker_exited"
        after = children(url)
        assert len(after) == 2 and worker["pid"] not in after
        workers = {client.worker for client in pinned_apart(url, 2)}
        assert kept.worker in workers and doomed.worker not in workers
    assert not sleeping(marker)  # the sibling's command ended with its server


def test_sigterm_stops_every_process_with_streams_open_and_leaves_none(tmp_path: Path) -> None:
    with serving("--workers", "2", env=server_environment(tmp_path / "data")) as (url, server):
        clients = pinned_apart(url, 2)
        pids = children(url)
        assert len(pids) == 2
        with (
            clients[0].stream("GET", "/api/v1/platform-models/events") as first,
            clients[1].stream("GET", "/api/v1/platform-models/events") as second,
        ):
            for stream in (first, second):
                assert next(stream.iter_lines()).startswith(":")  # open on both processes
            server.popen.terminate()
            assert server.wait() == 0, server.output
    assert "graceful shutdown exceeded" not in server.output
    assert server.output.count("Application shutdown complete") == 2
    assert not children(url) and not pids & {proc.pid for proc, _ in running_processes()}


def test_the_server_processes_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    with serving("--workers", "2", env=server_environment(tmp_path / "data")) as (url, server):
        pinned_apart(url, 2)
        server.popen.kill()
        server.wait()
        wait_for(lambda: not children(url), what="the server processes to stop")
    assert server.output.count("the supervisor is gone: stopping") == 2
    assert server.output.count("Application shutdown complete") == 2


def test_a_port_in_use_ends_the_supervisor_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = environment(CORRAL_DATA_DIR=str(tmp_path), CORRAL_SANDBOX_ISOLATION="none")
        with running("serve", "--port", str(port), "--workers", "2", env=env) as server:
            assert server.wait() == 1
    assert f"cannot listen on http://127.0.0.1:{port}: Address already in use" in server.output
    assert "Started server process" not in server.output  # no child was started


def test_processes_that_cannot_start_end_the_supervisor_with_their_error(
    tmp_path: Path,
) -> None:
    """A setting every child refuses at start (`bwrap` isolation, no bwrap on the PATH): the
    supervisor exits non-zero with the child's reason, instead of restarting it in a loop."""
    env = environment(
        CORRAL_DATA_DIR=str(tmp_path),
        CORRAL_SANDBOX_ISOLATION="bwrap",
        PATH=str(tmp_path / "no-bwrap-here"),
    )
    with running("serve", "--port", "0", "--workers", "2", env=env) as server:
        assert server.wait() == 1
    assert "sandbox_isolation is bwrap but bwrap is not installed" in server.output
    assert "before it served: stopping" in server.output
    assert "starting another" not in server.output


def test_a_replacement_that_cannot_start_ends_the_supervisor_after_three_tries(
    tmp_path: Path,
) -> None:
    """The settings file turns invalid while the server runs: the processes serving go on, but
    a replacement started after one of them is killed cannot start, and neither can the next
    two: the supervisor stops the other and exits non-zero instead of retrying forever."""
    config = tmp_path / "corral.yaml"
    env = server_environment(tmp_path / "data", CORRAL_CONFIG=str(config))
    with serving("--workers", "2", env=env) as (url, server):
        pinned_apart(url, 2)
        config.write_text("run_concurrency: 0\n")
        os.kill(min(children(url)), signal.SIGKILL)
        assert server.wait() == 1, server.output
    assert server.output.count("run_concurrency: Input should be greater than or equal to 1") == 3
    assert "before it served, 3 times in a row: stopping" in server.output
    assert server.output.count("Application shutdown complete") == 1  # the sibling, stopped
    assert not children(url)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--workers", "0"], {}, "0 is not in the range x>=1"),
        (["--workers", "-2"], {}, "-2 is not in the range x>=1"),
        ([], {"CORRAL_WORKERS": "0"}, "workers: Input should be greater than or equal to 1"),
    ],
)
def test_fewer_than_one_worker_is_refused(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = CliRunner().invoke(app, ["serve", *args], env=env)
    assert result.exit_code != 0
    assert message in " ".join(result.output.split())  # rich wraps the usage error box


def test_serve_cluster_queues_on_two_api_processes_and_executes_on_two_workers(
    tmp_path: Path,
) -> None:
    env = server_environment(tmp_path, CORRAL=CORRAL, PORT="0")
    with running(env=env, program=str(SERVE_CLUSTER)) as cluster:
        url = ready(cluster)
        cluster.expect("Ctrl-C stops them")
        found = re.search(r"corral serve \(pid (\d+).*\(pids (\d+) (\d+)\)", cluster.output)
        assert found, cluster.output
        supervisor, *workers = map(int, found.groups())
        cluster.expect("server process 2")
        cluster.expect("serves")
        with httpx.Client(base_url=url, timeout=DEADLINE_S) as api:
            assert api.get("/healthz").json()["process"]["mode"] == "api_only"
            _, session_id = session_on(api)
            run = wait_for_run(api, send(api, session_id, "Done by a worker."))
        assert run["status"] == "completed"
        assert run["metadata"]["worker"]["kind"] == "standalone"
        assert run["metadata"]["worker"]["pid"] in workers
        pids = {supervisor, *workers, *children(url)}
        assert len(pids) == 5
        cluster.popen.terminate()
        assert cluster.wait() == 0, cluster.output
    assert not pids & {proc.pid for proc, _ in running_processes()}
