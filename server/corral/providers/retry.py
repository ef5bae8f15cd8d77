"""Retrying a model stream while retrying is still invisible to the caller.

A transient failure (`ProviderError.retryable`) before the first event is retried with
exponential backoff and full jitter. Once an event has been passed on, the caller has acted on
it (text shown, a message written), so a later failure propagates instead.

Every stream the core reads passes here, so here every event is made `well_formed` (text that
can be stored), whichever provider sent it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from corral.providers.base import (
    ModelProvider,
    ModelRequest,
    ProviderError,
    StreamEvent,
    well_formed,
)

log = logging.getLogger(__name__)


async def stream_with_retry(
    provider: ModelProvider,
    request: ModelRequest,
    *,
    attempts: int = 4,
    base_delay_s: float = 1.0,
    max_delay_s: float = 30.0,
) -> AsyncIterator[StreamEvent]:
    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait_random_exponential(multiplier=base_delay_s, max=max_delay_s),
        retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.retryable),
        before_sleep=_log_retry,
        reraise=True,
    )
    opened: tuple[AsyncIterator[StreamEvent], StreamEvent]
    opened = await retrying(_first_event, provider, request)
    stream, first = opened
    try:
        yield well_formed(first)
        async for event in stream:
            yield well_formed(event)
    finally:
        # A caller that stops early (a cancelled run) must stop the HTTP request now, not when
        # the garbage collector finalises the provider's generator.
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


async def _first_event(
    provider: ModelProvider, request: ModelRequest
) -> tuple[AsyncIterator[StreamEvent], StreamEvent]:
    # A generator that raised is finished: nothing to close on failure.
    stream = provider.stream(request)
    try:
        return stream, await anext(stream)
    except StopAsyncIteration:
        raise ProviderError("the model stream ended without a response", retryable=False) from None


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "model call failed (attempt %d), retrying in %.2fs: %s",
        state.attempt_number,
        state.upcoming_sleep,
        error,
    )
