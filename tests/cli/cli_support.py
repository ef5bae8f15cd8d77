"""Scripts for the scripted model and the names the CLI tests keep out of the environment."""

from __future__ import annotations

import json
from typing import Any

WRITE_THEN_ANSWER = [
    {
        "text": "Writing it.",
        "toolCalls": [{"name": "Write", "input": {"file_path": "note.txt", "content": "hi"}}],
    },
    "Wrote note.txt.",
]


def metadata(turns: list[Any]) -> str:
    """The `--metadata` value that scripts every message's answer."""
    return json.dumps({"script": turns})
