"""TodoWrite keeps the model's list in the session state."""

from __future__ import annotations

from corral.tools.base import ToolContext

from .conftest import call, error_of

TODOS = [
    {"id": "1", "content": "Read the failing test", "status": "completed"},
    {"content": "Fix the parser", "status": "in_progress"},
    {"content": "Run the suite", "status": "pending"},
]


async def test_the_list_is_replaced_whole_and_returned(ctx: ToolContext) -> None:
    outcome = await call(ctx, "TodoWrite", {"todos": TODOS})
    assert outcome.ok and outcome.output == {"type": "json", "value": TODOS}
    assert ctx.state["todos"] == TODOS
    outcome = await call(ctx, "TodoWrite", {"todos": TODOS[2:]})
    assert ctx.state["todos"] == TODOS[2:] == outcome.output["value"]
    await call(ctx, "TodoWrite", {"todos": []})
    assert ctx.state["todos"] == []


async def test_bad_items_leave_the_list_alone(ctx: ToolContext) -> None:
    await call(ctx, "TodoWrite", {"todos": TODOS})
    for bad in (
        {"todos": [{"content": "x", "status": "done"}]},
        {"todos": [{"content": "", "status": "pending"}]},
        {"todos": [{"status": "pending"}]},
        {"todos": "write tests"},
        {},
    ):
        assert (await error_of(ctx, "TodoWrite", bad))[0] == "invalid_tool_input", bad
    assert ctx.state["todos"] == TODOS
