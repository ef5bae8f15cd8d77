"""`corral` as the user runs it: separate processes, their output read as it comes."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from corral.testing.processes import clean_environ, free_port, running_processes
from corral.testing.waiting import wait_for

CORRAL = str(Path(sys.executable).with_name("corral"))
DEADLINE_S = 60  # a guard against hangs, never a speed expectation


def environment(**extra: str) -> dict[str, str]:
    return clean_environ(PYTHONUNBUFFERED="1", **extra)


class Process:
    """A running `corral …` (or another `program`) whose combined output is read in the
    background, so a test can wait for a piece of text (`expect`) without blocking on a pipe."""

    def __init__(self, *args: str, env: dict[str, str], program: str = CORRAL) -> None:
        self.popen = subprocess.Popen(
            [program, *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
        )
        self.output = ""
        self._chunks: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        while chunk := self.popen.stdout.read(1):
            self._chunks.put(chunk)
        self._chunks.put(None)

    def expect(self, text: str) -> None:
        """Wait until `text` has been printed since the last `expect`."""
        deadline = time.monotonic() + DEADLINE_S
        start = len(self.output)
        while text not in self.output[start:]:
            chunk = self._chunks.get(timeout=max(deadline - time.monotonic(), 0.01))
            if chunk is None:
                raise AssertionError(f"exited before printing {text!r}:\n{self.output}")
            self.output += chunk

    def type(self, line: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def close_input(self) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.close()

    def interrupt(self) -> None:
        self.popen.send_signal(signal.SIGINT)

    def wait(self) -> int:
        code = self.popen.wait(DEADLINE_S)
        while (chunk := self._chunks.get(timeout=DEADLINE_S)) is not None:
            self.output += chunk
        return code

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait(DEADLINE_S)


@contextmanager
def running(*args: str, env: dict[str, str], program: str = CORRAL) -> Iterator[Process]:
    process = Process(*args, env=env, program=program)
    try:
        yield process
    finally:
        process.stop()


@contextmanager
def serving(data_dir: Path, *args: str, **settings: str) -> Iterator[tuple[str, Process]]:
    """`corral serve ARGS…` on a free port with its state in `data_dir`; yields its URL and
    process once it answers. `settings` are CORRAL_* variables."""
    port = free_port()
    env = environment(CORRAL_DATA_DIR=str(data_dir), CORRAL_SANDBOX_ISOLATION="none", **settings)
    with running("serve", "--port", str(port), *args, env=env) as server:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url) or server.popen.poll() is not None, what="corral serve")
        assert server.popen.poll() is None, f"corral serve did not start:\n{server.output}"
        yield url, server


@contextmanager
def corral_serve(data_dir: Path, **settings: str) -> Iterator[str]:
    """`corral serve` (see `serving`); yields its URL."""
    with serving(data_dir, **settings) as (url, _):
        yield url


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def sleeping(marker: str) -> set[bytes]:
    """The arguments of the running `sleep` processes whose argument starts with `marker` (not
    the shells that started them, whose command lines hold the marker too)."""
    return {
        argv[1]
        for _, argv in running_processes()
        if argv[:1] == [b"sleep"] and len(argv) > 1 and argv[1].startswith(marker.encode())
    }
