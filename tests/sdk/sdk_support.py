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


def script(turns: list[Any]) -> dict[str, Any]:
    return {"script": turns}
