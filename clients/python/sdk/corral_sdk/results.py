"""What a finished run gives back: `RunResult` (final text, usage, tool calls, the run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from corral_client.models import Run
from corral_client.types import Unset
from corral_sdk.errors import RunError
from corral_sdk.events import Event, MessageCompleted, MessageDelta, ToolStarted, text_of


@dataclass(frozen=True)
class Usage:
    """Tokens the run's model calls used (the run's `metadata.usage`)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @classmethod
    def of_run(cls, run: Run) -> Usage:
        usage: dict[str, Any] = _metadata(run).get("usage") or {}
        return cls(
            input_tokens=int(usage.get("inputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
            cache_read_tokens=int(usage.get("cacheReadTokens", 0)),
            cache_write_tokens=int(usage.get("cacheWriteTokens", 0)),
        )


@dataclass(frozen=True)
class RunResult:
    """A run that has ended. `text` is the last assistant text it produced (what a chat shows
    as the answer), `tool_calls` how many tools it called, `run` the run as stored."""

    run: Run
    text: str
    usage: Usage
    tool_calls: int

    @property
    def run_id(self) -> str:
        return self.run.id

    @property
    def status(self) -> str:
        return self.run.status.value

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    @property
    def output(self) -> Any:
        """What the run returned besides messages: an action's command result
        (`{stdout, stderr, exitCode…}`), None for message runs."""
        return _metadata(self.run).get("output")

    def raise_for_status(self) -> RunResult:
        """Return self when the run completed; raise `RunError` when it failed, timed out or
        was cancelled."""
        if self.ok:
            return self
        code = self.run.error_code if isinstance(self.run.error_code, str) else None
        message = self.run.error_message if isinstance(self.run.error_message, str) else None
        raise RunError(
            message or f"the run ended {self.status}",
            code=code or f"run_{self.status}",
            details={"runId": self.run.id, "status": self.status},
        )


@dataclass
class RunTranscript:
    """Follows a run's events to what its result reports: each message's text as it streams
    and completes (in the order messages began), and the tools called."""

    texts: dict[str, str] = field(default_factory=dict)
    tool_calls: int = 0

    def add(self, event: Event) -> None:
        if isinstance(event, MessageDelta):
            if event.delta is not None:
                self.texts[event.message_id] = self.texts.get(event.message_id, "") + event.delta
            elif event.content is not None:
                self.texts[event.message_id] = text_of(event.content)
        elif isinstance(event, MessageCompleted):
            self.texts[event.message_id] = event.text
        elif isinstance(event, ToolStarted):
            self.tool_calls += 1

    @property
    def text(self) -> str:
        return next((t for t in reversed(self.texts.values()) if t), "")

    def result(self, run: Run) -> RunResult:
        return RunResult(
            run=run, text=self.text, usage=Usage.of_run(run), tool_calls=self.tool_calls
        )


def _metadata(run: Run) -> dict[str, Any]:
    return {} if isinstance(run.metadata, Unset) else run.metadata.to_dict()
