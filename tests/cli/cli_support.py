"""Scripts for the scripted model and the names the CLI tests keep out of the environment."""

from __future__ import annotations

import json
from typing import Any

CLEAN_ENV = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL",
             "CORRAL_URL", "CORRAL_TOKEN")  # fmt: skip

WRITE_THEN_ANSWER = [
    {"text": "Writing it.",
     "toolCalls": [{"name": "Write", "input": {"file_path": "note.txt", "content": "hi"}}]},
    "Wrote note.txt.",
]  # fmt: skip


def metadata(turns: list[Any]) -> str:
    """The `--metadata` value that scripts every message's answer."""
    return json.dumps({"script": turns})
