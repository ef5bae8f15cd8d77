"""`stream_with_retry` against the real providers and fakes: transient failures are retried
only while nothing has been passed on to the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from corral.providers.base import ModelRequest, ProviderError, StreamEvent, TextDelta
from corral.providers.retry import stream_with_retry
from corral.testing.fake_provider import FakeReply
from corral.testing.waiting import wait_for

from .conftest import Wire, ask, collect, failure, texts

FAST = {"base_delay_s": 0.001, "max_delay_s": 0.01}


async def test_a_rate_limit_then_success(wire: Wire):
    wire.fake.reply(FakeReply.error(429, "slow down"), FakeReply.error(503, "busy"), "At last.")

    events = await collect(stream_with_retry(wire.provider(), ask(), attempts=3, **FAST))

    assert "".join(texts(events)) == "At last."
    assert len(wire.fake.requests) == 3


async def test_a_bad_request_is_not_retried(wire: Wire):
    wire.fake.reply(FakeReply.error(400, "messages: field required"), "never sent")

    _, error = await failure(stream_with_retry(wire.provider(), ask(), attempts=5, **FAST))

    assert (error.status, error.retryable) == (400, False)
    assert "messages: field required" in error.message
    assert len(wire.fake.requests) == 1


async def test_server_errors_until_attempts_run_out(wire: Wire):
    wire.fake.reply(*[FakeReply.error(500, f"down {i}") for i in range(3)], "too late")

    _, error = await failure(stream_with_retry(wire.provider(), ask(), attempts=3, **FAST))

    assert (error.status, error.retryable) == (500, True)
    assert "down 2" in error.message
    assert len(wire.fake.requests) == 3


async def test_a_failure_after_the_first_event_propagates(wire: Wire):
    long_text = "alpha beta gamma delta epsilon zeta eta theta"
    wire.fake.reply(FakeReply(text=long_text, fail_after_chunks=6), "not this one")

    events, error = await failure(stream_with_retry(wire.provider(), ask(), attempts=3, **FAST))

    assert texts(events) and error.retryable
    assert len(wire.fake.requests) == 1


async def test_a_timeout_before_any_event_is_retried(wire: Wire):
    wire.fake.reply(FakeReply(text="late", initial_delay_s=3), "on time")
    provider = wire.provider(timeoutSeconds=0.3)

    events = await collect(stream_with_retry(provider, ask(), attempts=2, **FAST))

    assert "".join(texts(events)) == "on time"


async def test_closing_early_stops_the_providers_request(wire: Wire):
    wire.fake.reply(FakeReply(text="word " * 500, chunk_delay_s=0.05))
    stream = stream_with_retry(wire.provider(), ask(), attempts=2, **FAST)

    async for event in stream:
        if isinstance(event, TextDelta):
            break
    await stream.aclose()

    wait_for(lambda: wire.fake.disconnects == 1)


class _Flaky:
    """A provider failing the way it is told before answering: no network, exact counts."""

    def __init__(self, failures: list[ProviderError]) -> None:
        self.failures = failures
        self.calls = 0

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        yield TextDelta("fine")

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize("attempts", [1, 4])
async def test_attempts_bound_the_calls(attempts: int):
    flaky = _Flaky([ProviderError("x", retryable=True) for _ in range(10)])

    await failure(stream_with_retry(flaky, ask(), attempts=attempts, **FAST))

    assert flaky.calls == attempts
