"""How both SDK providers fail: HTTP errors, errors inside a stream, timeouts and dropped
connections all become `ProviderError`s that say whether a retry may help; and a stream the
caller abandons stops its HTTP request."""

from __future__ import annotations

import pytest

from corral.testing.fake_provider import FakeReply
from corral.testing.waiting import wait_for

from .conftest import Wire, ask, collect, failure, texts

LONG_TEXT = "one two three four five six seven eight nine ten eleven twelve"


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (404, False), (422, False), (429, True), (500, True), (529, True)],
)
async def test_http_errors_carry_the_providers_message(wire: Wire, status: int, retryable: bool):
    wire.fake.reply(FakeReply.error(status, f"provider says {status}"))

    events, error = await failure(wire.provider().stream(ask()))

    assert events == []
    assert (error.status, error.retryable) == (status, retryable)
    assert f"provider says {status}" in error.message


async def test_an_error_inside_the_stream_after_text(wire: Wire):
    wire.fake.reply(FakeReply(text=LONG_TEXT, fail_after_chunks=6, error_message="overloaded now"))

    events, error = await failure(wire.provider().stream(ask()))

    streamed = "".join(texts(events))
    assert streamed and LONG_TEXT.startswith(streamed) and streamed != LONG_TEXT
    assert error.retryable and "overloaded now" in error.message


async def test_a_permanent_error_inside_the_stream(wire: Wire):
    wire.fake.reply(
        FakeReply(
            text=LONG_TEXT,
            fail_after_chunks=3,
            error_message="content rejected",
            error_type="invalid_request_error",
        )
    )

    _, error = await failure(wire.provider().stream(ask()))

    assert not error.retryable and "content rejected" in error.message


async def test_a_dropped_connection_is_transient(wire: Wire):
    wire.fake.reply(FakeReply(text=LONG_TEXT, drop_after_chunks=5))

    _, error = await failure(wire.provider().stream(ask()))

    assert error.retryable and error.status is None


async def test_no_response_within_the_timeout(wire: Wire):
    wire.fake.reply(FakeReply(text="late", initial_delay_s=3))

    events, error = await failure(wire.provider(timeoutSeconds=0.2).stream(ask()))

    assert events == [] and error.retryable and "timed out" in error.message


async def test_silence_mid_stream_beyond_the_timeout(wire: Wire):
    wire.fake.reply(FakeReply(text=LONG_TEXT, chunk_delay_s=3))

    _, error = await failure(wire.provider(timeoutSeconds=0.5).stream(ask()))

    assert error.retryable and "timed out" in error.message


async def test_closing_the_stream_stops_the_request(wire: Wire):
    wire.fake.reply(FakeReply(text=LONG_TEXT * 20, chunk_delay_s=0.05))
    stream = wire.provider().stream(ask())

    first_text = None
    async for event in stream:
        if texts([event]):
            first_text = event
            break
    await stream.aclose()  # what cancelling a run does to the provider's generator

    assert first_text is not None
    wait_for(lambda: wire.fake.disconnects == 1)
    assert len(wire.fake.requests) == 1


async def test_the_stream_works_again_after_a_failure(wire: Wire):
    provider = wire.provider()
    wire.fake.reply(FakeReply.error(500, "boom"), "recovered")

    await failure(provider.stream(ask()))
    events = await collect(provider.stream(ask()))

    assert "".join(texts(events)) == "recovered"
