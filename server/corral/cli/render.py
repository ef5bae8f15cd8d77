"""A run on the terminal: its text as it streams, its tool calls as they start and end, and how
it ended. Used by `corral chat` and `corral runs watch`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.text import Text

from corral_sdk.events import (
    Event,
    MessageCompleted,
    MessageDelta,
    RunCancelled,
    RunFailed,
    ToolCompleted,
    ToolFailed,
    ToolStarted,
    text_of,
)
from corral_sdk.results import RunResult

INPUT_PREVIEW = 80  # characters of a tool's input shown beside its name


class RunPrinter:
    """Prints one run's events. Each message's text is printed once, whether it arrives in
    deltas, as cumulative content, or only complete (after a resumed stream)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.printed: dict[str, str] = {}  # message id -> its text shown so far
        self.writing: str | None = None  # the message whose text the cursor is after
        self.mid_line = False

    def show(self, events: Iterable[Event]) -> None:
        for event in events:
            self.show_event(event)

    def show_event(self, event: Event) -> None:
        if isinstance(event, MessageDelta):
            shown = self.printed.get(event.message_id, "")
            if event.delta is not None:
                self._text(event.message_id, shown + event.delta)
            elif event.content is not None:
                self._text(event.message_id, text_of(event.content))
        elif isinstance(event, MessageCompleted) and event.tool_name is None:
            self._text(event.message_id, event.text)
        elif isinstance(event, ToolStarted):
            self._line(
                Text.assemble(
                    ("⚙ ", "cyan"),
                    (event.tool_name, "bold cyan"),
                    (f" {_preview(event.input)}", "dim"),
                )
            )
        elif isinstance(event, ToolCompleted):
            took = f" ({event.duration_ms:.0f} ms)" if event.duration_ms is not None else ""
            self._line(Text.assemble(("✓ ", "green"), (event.tool_name, "green"), (took, "dim")))
        elif isinstance(event, ToolFailed):
            why = f": {event.error_code}: {event.error_message}" if event.error_code else ""
            self._line(Text.assemble(("✗ ", "red"), (event.tool_name, "red"), (why, "red")))
        elif isinstance(event, RunFailed):
            self._line(
                Text(
                    f"run {event.status}: {event.error_code}: {event.error_message}",
                    style="bold red",
                )
            )
        elif isinstance(event, RunCancelled):
            self._line(Text("run cancelled", style="yellow"))

    def summary(self, result: RunResult) -> None:
        """The closing line of a run: its status and the tokens it used."""
        self._end_line()
        usage = result.usage
        tokens = f"{usage.input_tokens} in / {usage.output_tokens} out tokens"
        tools = f", {result.tool_calls} tool calls" if result.tool_calls else ""
        style = "dim" if result.ok else "yellow"
        self.console.print(Text(f"[{result.status}: {tokens}{tools}]", style=style))

    def _text(self, message_id: str, text: str) -> None:
        shown = self.printed.get(message_id, "")
        if not text.startswith(shown) or message_id != self.writing:
            self._end_line()  # another message, or this one rewritten: on a line of its own
        if not text.startswith(shown):
            shown = ""
        new = text[len(shown) :]
        if new:
            self.console.print(new, end="", markup=False, highlight=False, soft_wrap=True)
            self.writing, self.mid_line = message_id, not new.endswith("\n")
        self.printed[message_id] = text

    def _line(self, text: Text) -> None:
        self._end_line()
        self.console.print(text, soft_wrap=True)

    def _end_line(self) -> None:
        if self.mid_line:
            self.console.print()
        self.writing, self.mid_line = None, False


def _preview(value: Any) -> str:
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= INPUT_PREVIEW else shown[: INPUT_PREVIEW - 1] + "…"
