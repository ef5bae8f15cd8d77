"""Reading a session's event stream across dropped connections: the state both clients share.

An `EventFeed` knows where the stream stands (the last cursor received), what to ask the
server next (`?cursor=` resumes right after it: no gap, no duplicate), when the stream is
over (the followed run ended, or a snapshot was fully replayed) and how long to wait before
reconnecting. The sync and async clients only move bytes: connect, hand each frame to
`accept`, and on a dropped connection ask `backoff` how long to sleep.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from httpx_sse import ServerSentEvent

from corral_client.api.sessions import stream_session_events
from corral_client.types import UNSET
from corral_sdk.errors import CorralConnectionError
from corral_sdk.events import Event, is_run_end, parse_event
from corral_sdk.results import RunTranscript

MAX_BACKOFF_S = 5.0


@dataclass
class EventFeed:
    session_id: str
    run_id: str | None = None  # only this run's events; the feed ends with the run
    after: int | None = None  # the last cursor received
    follow: bool = True  # False: end once the stored events are replayed
    patience_s: float = 60.0  # how long the server may stay unreachable before giving up
    transcript: RunTranscript = field(default_factory=RunTranscript)
    finished: bool = False
    retry_s: float = 1.0  # the server's `retry:` hint
    _failing_since: float | None = None
    _failures: int = 0
    _progressed: bool = False

    def request(self) -> dict[str, Any]:
        """The request that (re)opens the stream right after the last event received."""
        return stream_session_events._get_kwargs(
            self.session_id,
            follow=self.follow,
            run_id=self.run_id if self.run_id is not None else UNSET,
            cursor=str(self.after) if self.after is not None else UNSET,
        )

    def accept(self, frame: ServerSentEvent) -> Event:
        if frame.retry is not None:
            self.retry_s = frame.retry / 1000
        if frame.id.isdigit():
            self.after = int(frame.id)
        event = parse_event(frame.event, self.after or 0, frame.data)
        self.transcript.add(event)
        self._progressed, self._failing_since, self._failures = True, None, 0
        if self.run_id is not None and is_run_end(event, self.run_id):
            self.finished = True
        return event

    def closed(self, error: Exception | None = None) -> float:
        """The stream ended (the server closed it, or `error` broke it): the seconds to wait
        before reconnecting. A stream that delivered events is resumed at once (the server
        cuts off readers that fall behind); raises `CorralConnectionError` once the server
        has failed for longer than `patience_s`."""
        if error is None and not self.follow:
            self.finished = True  # a snapshot, fully replayed
            return 0.0
        if self._progressed:
            self._progressed = False
            return 0.0
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._failing_since > self.patience_s:
            raise CorralConnectionError(
                f"the event stream of session {self.session_id} could not be resumed for "
                f"{self.patience_s:g} s (last cursor {self.after}): {error or 'closed'}"
            ) from error
        self._failures += 1
        return min(self.retry_s * 2.0 ** (self._failures - 1), MAX_BACKOFF_S)
