"""TodoWrite: the model's own task list for the session, replaced whole on every call."""

from __future__ import annotations

from typing import Any

from corral.tools.base import ToolContext, ToolResult
from corral.tools.native import NativeTool, schema

STATE_KEY = "todos"


async def _todo_write(ctx: ToolContext, input: dict[str, Any]) -> ToolResult:
    todos = [dict(todo) for todo in input["todos"]]
    ctx.state[STATE_KEY] = todos
    return ToolResult.json(todos)


TODO_WRITE = NativeTool(
    name="TodoWrite",
    description=(
        "Replace your task list for this session with `todos` (send the whole list each time; "
        "an empty list clears it). Use it to plan and track work of several steps: keep one "
        "item in_progress while you work on it and mark it completed as soon as it is done."
    ),
    input_schema=schema(
        {
            "todos": {
                "type": "array",
                "items": schema(
                    {
                        "id": {"type": "string", "description": "A stable id of your choice."},
                        "content": {
                            "type": "string",
                            "minLength": 1,
                            "description": "The task, imperative and short.",
                        },
                        "status": {
                            "type": "string",
                            "enum": ["pending", "in_progress", "completed"],
                        },
                    },
                    "content",
                    "status",
                ),
            }
        },
        "todos",
    ),
    handler=_todo_write,
)
