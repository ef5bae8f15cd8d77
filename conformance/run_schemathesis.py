"""Fuzz a live Corral server against openapi.yaml with Schemathesis: every check, every phase
(examples, coverage, fuzzing, stateful). Operations listed in codegen/pending_operations.txt
still answer 501 and are excluded here, by name, from that one list.

Usage: python conformance/run_schemathesis.py [extra schemathesis args...]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from corral.testing.processes import clean_environ, free_port

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


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    sys.exit("server did not become ready within 30 s")


def main() -> int:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
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
        )
        log_path = Path(data_dir) / "server.log"
        log = log_path.open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "corral", "serve", "--port", str(port)],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_ready(url, server)
            command = [
                str(Path(sys.executable).with_name("schemathesis")),
                "--config-file",
                str(ROOT / "conformance" / "schemathesis.toml"),
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
        finally:
            server.terminate()
            server.wait(10)
            log.close()
        if code != 0:
            print("---- server log: warnings and errors ----")
            for line in log_path.read_text(errors="replace").splitlines():
                if '"level":"info"' not in line:
                    print(line)
        return code


if __name__ == "__main__":
    sys.exit(main())
