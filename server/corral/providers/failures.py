"""Which provider failures are transient, phrased once for every provider.

Transient means worth another attempt: rate limits, server errors, timeouts and dropped
connections. Anything else (a bad request, a wrong key) fails the same way every time.
"""

from __future__ import annotations

from corral.providers.base import ProviderError

# Error types a provider reports inside a stream that had already started with a 200.
_TRANSIENT_STREAM_ERRORS = frozenset(
    {"server_error", "api_error", "overloaded_error", "rate_limit_error", "timeout_error"}
)


def is_transient_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def http_failure(provider: str, status: int, message: str) -> ProviderError:
    return ProviderError(
        f"{provider} returned HTTP {status}: {message}",
        retryable=is_transient_status(status),
        status=status,
    )


def stream_failure(provider: str, error_type: str | None, message: str) -> ProviderError:
    return ProviderError(
        f"{provider} failed mid-stream ({error_type or 'error'}): {message}",
        retryable=error_type in _TRANSIENT_STREAM_ERRORS,
    )


def connection_failure(provider: str, *, timed_out: bool) -> ProviderError:
    what = "timed out" if timed_out else "could not be reached or dropped the connection"
    return ProviderError(f"{provider} {what}", retryable=True)
