"""Scripts for the scripted model, and the stored truth the SDK's view is checked against."""

from __future__ import annotations

from typing import Any

from corral.testing.outbox import stored_events as stored_events

# Write a file, read it back, answer: two tool rounds, three model turns.
WRITE_READ_ANSWER = [
    {
        "text": "Writing it.",
        "toolCalls": [{"name": "Write", "input": {"file_path": "notes.txt", "content": "hi\n"}}],
    },
    {"toolCalls": [{"name": "Read", "input": {"file_path": "notes.txt"}}]},
    "All done.",
]


def gated(gate: str, answer: str = "Through the gate.") -> list[Any]:
    """A run that waits in a Bash tool until the file `gate` exists in the workspace: the test
    decides when it goes on (no timing involved)."""
    wait = f"while [ ! -e {gate} ]; do sleep 0.02; done"
    return [
        {"text": "Waiting.", "toolCalls": [{"name": "Bash", "input": {"command": wait}}]},
        answer,
    ]


def script(turns: list[Any]) -> dict[str, Any]:
    return {"script": turns}
