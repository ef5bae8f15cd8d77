"""What every harness that starts a `corral` process needs (tests, benchmarks, the fuzz runner,
the wheel check): an environment without the caller's provider keys or client settings (so a
harness never reaches, or spends on, a real provider, and never talks to the caller's own
server), a process whose output is read as it comes, `corral serve` started on a port nobody
races for, and a look at the processes that still run (to prove a command, or what it left, is
gone).

`serving` starts `corral serve --port 0`: the kernel picks a free port as the server binds it,
and the server says which in its serving line (`corral.http.serving_line`). Choosing a free port
here and handing it over would race: between this process closing its probe socket and the
server binding the port, anything else may take it. The line is read from the output
`Process` gathers anyway, so a test can still wait for other text the server prints.
"""

from __future__ import annotations

import codecs
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx

from corral.http.serving_line import SERVING_LINE
from corral.process_identity import ProcStat, processes
from corral.testing.waiting import DEADLINE_S, wait_for

CALLER_VARIABLES = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_BASE_URL",
    "CORRAL_URL",
    "CORRAL_TOKEN",
)
# The `corral` of this interpreter's environment (a venv's bin/ holds both).
CORRAL = str(Path(sys.executable).with_name("corral"))


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without `CALLER_VARIABLES`, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in CALLER_VARIABLES}
    return {**env, **extra}


def pinned(cpu: int, command: Sequence[str]) -> list[str]:
    """`command` run on CPU `cpu` only, where `taskset` is there (it execs: same pid)."""
    return ["taskset", "-c", str(cpu), *command] if shutil.which("taskset") else [*command]


class Process:
    """A running `corral …` (or another `program`) whose combined output is read in the
    background, so a harness can wait for a piece of text (`expect`, `search`) without blocking
    on a pipe, and the pipe never fills while nobody looks."""

    def __init__(
        self,
        *args: str,
        env: Mapping[str, str],
        program: str = CORRAL,
        cwd: str | os.PathLike[str] | None = None,
        cpu: int | None = None,
    ) -> None:
        command = [program, *args]
        self.popen = subprocess.Popen(
            command if cpu is None else pinned(cpu, command),
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.output = ""  # what has been read so far
        self._expected = 0  # where `expect` looks from: after the text it last found
        self._ended = False  # all the output has been read
        self._chunks: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        fd = self.popen.stdout.fileno()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while data := os.read(fd, 1 << 16):
            self._chunks.put(decoder.decode(data))
        self._chunks.put(decoder.decode(b"", final=True))
        self._chunks.put(None)

    def _read_more(self, deadline: float, what: str) -> bool:
        """Add the next piece of output; False once it has all been read. Fails saying `what`
        was awaited when the deadline passes first."""
        if self._ended:
            return False
        try:
            chunk = self._chunks.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            raise AssertionError(f"still waiting for {what}:\n{self.output}") from None
        if chunk is None:
            self._ended = True
            return False
        self.output += chunk
        return True

    def expect(self, text: str) -> None:
        """Wait until `text` has been printed since the text the last `expect` found."""
        deadline = time.monotonic() + DEADLINE_S
        while (found := self.output.find(text, self._expected)) < 0:
            if not self._read_more(deadline, repr(text)):
                raise AssertionError(f"exited before printing {text!r}:\n{self.output}")
        self._expected = found + len(text)

    def search(self, pattern: re.Pattern[str]) -> re.Match[str]:
        """Wait until `pattern` matches somewhere in the output (`expect`'s place is kept)."""
        deadline = time.monotonic() + DEADLINE_S
        while not (found := pattern.search(self.output)):
            if not self._read_more(deadline, pattern.pattern):
                raise AssertionError(f"exited before printing {pattern.pattern}:\n{self.output}")
        return found

    def type(self, line: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(line.encode() + b"\n")
        self.popen.stdin.flush()

    def close_input(self) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.close()

    def interrupt(self) -> None:
        self.popen.send_signal(signal.SIGINT)

    def wait(self) -> int:
        """Wait for the exit and the rest of the output; the exit status."""
        code = self.popen.wait(DEADLINE_S)
        deadline = time.monotonic() + DEADLINE_S
        while self._read_more(deadline, "the end of the output"):
            pass
        return code

    def stop(self) -> None:
        """SIGTERM if still running, SIGKILL if it has not exited `DEADLINE_S` later; then
        the rest of its output is read."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        self.wait()


@contextmanager
def running(
    *args: str,
    env: Mapping[str, str],
    program: str = CORRAL,
    cwd: str | os.PathLike[str] | None = None,
    cpu: int | None = None,
) -> Iterator[Process]:
    """`program ARGS…` (pinned to `cpu` if given) while the block runs; stopped at its end."""
    process = Process(*args, env=env, program=program, cwd=cwd, cpu=cpu)
    try:
        yield process
    finally:
        process.stop()


class Served(NamedTuple):
    """A `corral serve` that answers: where, and its process (its output, its signals)."""

    url: str
    process: Process


@contextmanager
def serving(
    *args: str,
    env: Mapping[str, str],
    program: str = CORRAL,
    cwd: str | os.PathLike[str] | None = None,
    cpu: int | None = None,
) -> Iterator[Served]:
    """`program serve --port 0 ARGS…` (see `running`): its URL and process, once it answers
    there; stopped at the block's end."""
    with running("serve", "--port", "0", *args, env=env, program=program, cwd=cwd, cpu=cpu) as p:
        yield Served(ready(p), p)


def ready(process: Process, line: re.Pattern[str] = SERVING_LINE, probe: str = "/readyz") -> str:
    """The URL `process` prints in `line` (its group `url`: by default Corral's serving line),
    once `probe` answers 200 there. Fails with its output if it exits first."""
    url = process.search(line)["url"]

    def answers() -> bool:
        if process.popen.poll() is not None:
            process.wait()
            raise AssertionError(f"exited before {url}{probe} answered:\n{process.output}")
        try:
            return httpx.get(url + probe, timeout=DEADLINE_S).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(answers, what=f"{url}{probe} to answer 200")
    return url


def running_processes() -> Iterator[tuple[ProcStat, list[bytes]]]:
    """Every process that still runs, with its argv: zombies (ended, not reaped; this machine's
    init leaves them around) are left out."""
    for proc in processes():
        if proc.state == b"Z":
            continue
        try:
            with open(f"/proc/{proc.pid}/cmdline", "rb") as cmdline:
                argv = cmdline.read().split(b"\0")
        except OSError:
            continue  # ended meanwhile
        yield proc, argv[:-1] if argv and argv[-1] == b"" else argv
