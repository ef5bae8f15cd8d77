"""A server killed without warning leaves no command running once the next one starts: a
foreground command, a background one and an agent's Bash call, all unconfined (`none`, where
no `--die-with-parent` helps), survive `kill -9` of `corral serve` and are ended when a server
starts again on the same data dir."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import uuid
from pathlib import Path

import httpx

from corral.process_identity import PID_SPACE, start_ticks
from corral.sandbox.group_ledger import GroupLedger
from corral.testing.processes import serving
from corral.testing.waiting import DEADLINE_S, wait_for
from tests.cli.processes import server_environment, sleeping


def test_commands_of_a_killed_server_end_when_the_next_one_starts(tmp_path: Path) -> None:
    marker = f"7{uuid.uuid4().int % 10**6:06d}"  # sleep's argument: unique to this test
    with serving(env=server_environment(tmp_path)) as (url, first):
        api = httpx.Client(base_url=url, timeout=DEADLINE_S)
        ws = api.post("/api/v1/workspaces", json={"name": "w", "runtime": "default"}).json()
        session = api.post(f"/api/v1/workspaces/{ws['id']}/sessions", json={}).json()
        commands = f"/api/v1/sandboxes/{ws['id']}/commands"
        # Foreground: the request waits on it, so it is sent from a thread of its own.
        threading.Thread(
            target=_post_ignoring_failure,
            daemon=True,
            args=(
                api,
                f"{commands}/foreground",
                {"command": f"sleep {marker}1 & sleep {marker}2"},
            ),
        ).start()
        assert api.post(f"{commands}/background", json={"command": f"sleep {marker}3"}).is_success
        script = [{"toolCalls": [{"name": "Bash", "input": {"command": f"sleep {marker}4"}}]}, "ok"]
        sent = api.post(
            f"/api/v1/sessions/{session['id']}/messages",
            json={"content": "go", "metadata": {"script": script}},
        )
        assert sent.status_code == 202, sent.text
        every = {f"{marker}{i}".encode() for i in range(1, 5)}
        wait_for(lambda: sleeping(marker) == every, what="the four commands to run")
        first.popen.send_signal(signal.SIGKILL)
        first.popen.wait(DEADLINE_S)
        api.close()

    assert sleeping(marker) == every  # nothing ended them: without the ledger they would live on
    with serving(env=server_environment(tmp_path)) as (_, second):
        wait_for(lambda: not sleeping(marker), what="the orphans to be ended")
        assert "left running by a server that died" in second.output


def _post_ignoring_failure(api: httpx.Client, path: str, body: dict[str, str]) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server is killed under the request
        api.post(path, json=body)


def test_a_group_number_reused_since_is_left_alone(tmp_path: Path) -> None:
    """An entry whose group number now leads another process (its own start time differs from
    the recorded leader's) names a group that is gone: reaping kills nothing."""
    dead_owner = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, check=True)
    owner_pid = int(dead_owner.stdout)
    bystander = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        started = start_ticks(bystander.pid)
        assert started is not None
        ledger = GroupLedger(tmp_path / "groups")
        entry = {
            "owner": {"pid": owner_pid, "started": 1, "pidSpace": PID_SPACE},
            "leaderStarted": started - 1,  # an earlier process of the same number
        }
        (ledger.directory / f"{bystander.pid}.json").write_text(json.dumps(entry))
        assert ledger.reap() == 0
        assert bystander.poll() is None  # still running
        assert not list(ledger.directory.iterdir())  # the stale entry is gone
    finally:
        bystander.kill()
        bystander.wait()
