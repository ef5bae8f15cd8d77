"""Turns for the scripted model that tests share. A gated turn holds its run in a Bash tool until
the test creates a file in the workspace: the test, not a timer, decides when the run goes on."""

from __future__ import annotations

from typing import Any


def wait_for_file(gate: str) -> str:
    """A shell command that returns once `gate` exists (relative to the workspace)."""
    return f"while [ ! -e {gate} ]; do sleep 0.02; done"


def gated(gate: str = "gate", answer: str = "Through the gate.") -> list[Any]:
    """A script that waits at `gate` in a Bash call, then answers `answer`."""
    bash = {"name": "Bash", "input": {"command": wait_for_file(gate)}}
    return [{"text": "Waiting for the gate.", "toolCalls": [bash]}, answer]
