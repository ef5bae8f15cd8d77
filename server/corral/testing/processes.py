"""What every harness that starts a `corral` process needs: a free loopback port, an
environment without the caller's provider keys or client settings (so a test never reaches,
or spends on, a real provider, and never talks to the caller's own server), and a look at the
processes that still run (to prove a command, or what it left, is gone)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

from corral.process_identity import ProcStat, processes

CALLER_VARIABLES = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_BASE_URL",
    "CORRAL_URL",
    "CORRAL_TOKEN",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without `CALLER_VARIABLES`, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in CALLER_VARIABLES}
    return {**env, **extra}


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
