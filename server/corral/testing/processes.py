"""What every harness that starts a `corral` process needs: a free loopback port, and an
environment without the caller's provider keys or client settings (so a test never reaches,
or spends on, a real provider, and never talks to the caller's own server)."""

from __future__ import annotations

import os
import socket

CALLER_VARIABLES = (
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL",
    "CORRAL_URL", "CORRAL_TOKEN",
)  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without `CALLER_VARIABLES`, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in CALLER_VARIABLES}
    return {**env, **extra}
