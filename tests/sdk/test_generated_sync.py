"""The sync client is generated from the asyncio one: the committed files must match a fresh
generation (`make codegen` after editing aio.py or _async_transport.py; `make check` checks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GENERATOR = Path(__file__).resolve().parents[2] / "clients" / "python" / "sdk" / "gen_sync.py"


def test_the_sync_client_is_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
