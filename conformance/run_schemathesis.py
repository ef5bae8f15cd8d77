"""Fuzz a live Corral server against openapi.yaml with Schemathesis: every check, every phase
(examples, coverage, fuzzing, stateful). Operations listed in codegen/pending_operations.txt
still answer 501 and are excluded here, by name, from that one list.

A fuzzer that only ever sends random ids learns nothing past each route's lookup (404). So
before the run this script creates, through the API, one of everything an operation needs the
id of (`seed`): a workspace (also its sandbox) with a file, a session, a completed and a failed
run, two terminals, two runtimes, a workspace for the file writes, and a workspace and a session
to delete. Their ids become
Schemathesis dictionaries, appended to a copy of schemathesis.toml, whose `[parameters]` bind
each path parameter to one; the stateful phase follows the spec's `links` from what it creates.

Usage: python conformance/run_schemathesis.py [extra schemathesis args...]
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import httpx

from corral.testing.processes import clean_environ, serving
from corral.testing.waiting import wait_for_run

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "conformance-token-0123456789"


def pending_operations() -> list[str]:
    text = (ROOT / "codegen" / "pending_operations.txt").read_text()
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def unconfined_operations() -> list[str]:
    """Without bwrap, arbitrary commands would run as plain processes of this machine's user:
    leave the command routes out of the run (and say so) rather than risk that."""
    if shutil.which("bwrap"):
        return []
    print("bwrap is not installed: the command routes are not fuzzed", file=sys.stderr)
    return ["runForegroundCommand", "runProcessCommand", "startBackgroundCommand"]


class Seeder:
    """The API calls `seed` makes; any answer but a 2xx ends the script with that answer."""

    def __init__(self, url: str) -> None:
        self.api = httpx.Client(
            base_url=url, timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.api.request(method, f"/api/v1{path}", **kwargs)
        if not resp.is_success:
            sys.exit(f"seeding failed: {method} {path} answered {resp.status_code} {resp.text}")
        return resp.json()

    def workspace(self, name: str) -> str:
        return str(
            self.call("POST", "/workspaces", json={"name": name, "runtime": "default"})["id"]
        )

    def session(self, workspace_id: str) -> str:
        return str(self.call("POST", f"/workspaces/{workspace_id}/sessions", json={})["id"])

    def runtime(self, name: str) -> str:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("AGENTS.md", f"# {name}\n")
        self.call(
            "POST",
            "/runtimes/upload",
            params={"name": name},
            content=archive.getvalue(),
            headers={"Content-Type": "application/octet-stream"},
        )
        return name

    def file(self, workspace_id: str, path: str) -> str:
        body = {"path": path, "content": "seeded by the fuzz runner\n"}
        return str(self.call("PUT", f"/sandboxes/{workspace_id}/files/content", json=body)["path"])

    def terminal(self, workspace_id: str, session_id: str) -> str:
        # `cat` reads the terminal's input until stopped: a terminal that stays open for input.
        body = {"command": "cat", "sessionId": session_id}
        return str(
            self.call("POST", f"/sandboxes/{workspace_id}/commands/background", json=body)["taskId"]
        )

    def message(self, session_id: str, **body: Any) -> tuple[str, str]:
        """A user message and its run, once the run has ended (the scripted model answers)."""
        body = {"content": "hello", **body}
        accepted = self.call("POST", f"/sessions/{session_id}/messages", json=body)
        wait_for_run(self.api, accepted["runId"])
        return str(accepted["messageId"]), str(accepted["runId"])


def seed(url: str) -> dict[str, list[str]]:
    """Create what operations need real ids of; name each set as schemathesis.toml's
    `[parameters]` and `[[operations]]` bindings do. Resources the run may delete or stop
    (`doomed*`, `stoppableTerminal`, the `scratch*` workspace and file that writes use) are apart
    from the ones it keeps using."""
    seeder = Seeder(url)
    workspace = seeder.workspace("fuzz")
    session = seeder.session(workspace)
    message, run = seeder.message(session)
    scratch = seeder.workspace("fuzz-files")
    # Only a failed run can be requeued; the scripted model fails it on request, every time.
    failure = {"script": [{"error": {"message": "seeded failure", "retryable": False}}]}
    _, failed_run = seeder.message(session, metadata=failure)
    return {
        "workspace": [workspace],
        "doomedWorkspace": [seeder.workspace("fuzz-doomed")],
        "session": [session],
        "doomedSession": [seeder.session(workspace)],
        "message": [message],
        "run": [run],
        "failedRun": [failed_run],
        "terminal": [seeder.terminal(workspace, session)],
        "stoppableTerminal": [seeder.terminal(workspace, session)],
        "runtime": [seeder.runtime("fuzz")],
        "doomedRuntime": [seeder.runtime("fuzz-doomed")],
        "action": ["list-files"],  # every workspace of the default runtime declares it
        "agent": ["assistant"],
        "model": ["platform/default", "workspace/scripted"],
        "sandboxFile": [seeder.file(workspace, "fuzz/seed.txt")],
        "sandboxDirectory": ["/workspace/fuzz"],
        "scratchWorkspace": [scratch],
        "scratchFile": [seeder.file(scratch, "fuzz/scratch.txt")],
        "newPath": ["/workspace/fuzz/moved.txt", "/workspace/fuzz/new"],
    }


def seeded_config(dictionaries: dict[str, list[str]], directory: Path) -> Path:
    """schemathesis.toml with the seeded values appended as its `[dictionaries.*]` tables."""
    tables = "".join(
        f"\n[dictionaries.{name}]\nvalues = {json.dumps(values)}\n"
        for name, values in dictionaries.items()
    )
    path = directory / "schemathesis.toml"
    path.write_text((ROOT / "conformance" / "schemathesis.toml").read_text() + tables)
    return path


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="corral-fuzz-") as data_dir:
        # Without provider keys the default platform model is the scripted one: the fuzzer's
        # calls to the model gateway never reach (or spend on) a real provider.
        env = clean_environ(
            CORRAL_DATA_DIR=data_dir,
            CORRAL_API_TOKENS=TOKEN,
            CORRAL_VALIDATE_RESPONSES="true",
            CORRAL_LOG_LEVEL="warning",
            CORRAL_LOG_JSON="true",
            # The fuzzer sends arbitrary shell commands: they run confined by bwrap (only the
            # throwaway workspace writable, no network) and for at most 2 s each. Without bwrap
            # the command routes are left out (`unconfined_operations`) and the server still runs.
            CORRAL_SANDBOX_ISOLATION="bwrap" if shutil.which("bwrap") else "none",
            CORRAL_SANDBOX_NETWORK="false",
            CORRAL_SANDBOX_MAX_TIMEOUT_MS="2000",
            # Terminals wait for input until stopped, and the fuzzer copies a command it has seen
            # (`cat`): ending each within 30 s keeps background commands from filling their quota.
            CORRAL_SANDBOX_BACKGROUND_MAX_SECONDS="30",
        )
        with serving(env=env, cwd=ROOT) as (url, server):
            config = seeded_config(seed(url), Path(data_dir))
            command = [
                str(Path(sys.executable).with_name("schemathesis")),
                "--config-file",
                str(config),
                "run",
                f"{url}/openapi.json",
                "--url",
                url,
                "-H",
                f"Authorization: Bearer {TOKEN}",
            ]
            for op in pending_operations() + unconfined_operations():
                command += ["--exclude-operation-id", op]
            code = subprocess.run([*command, *sys.argv[1:]], cwd=ROOT, check=False).returncode
        if code != 0:
            print("---- server log: warnings and errors ----")
            for line in server.output.splitlines():
                if '"level":"info"' not in line:
                    print(line)
        return code


if __name__ == "__main__":
    sys.exit(main())
