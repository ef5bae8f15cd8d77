"""OpenAI chat completions through the official SDK, for `openai` and `openai-compatible`.

Compatible servers (vLLM, Ollama, llama.cpp) differ from OpenAI in small ways handled here: no
key is needed (their client is sealed, so the process's OPENAI_* variables never reach a
third-party URL: `corral.providers.sdk_client`), the output cap is the older `max_tokens`, and
reasoning arrives as a non-standard `reasoning_content` (or `reasoning`) delta field.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import openai
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionChunk

from corral.providers.base import (
    Finish,
    FinishReason,
    ModelRequest,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Usage,
)
from corral.providers.config import ProviderConfig
from corral.providers.content import PendingToolCall
from corral.providers.failures import connection_failure, http_failure, stream_failure
from corral.providers.openai_transcript import chat_messages, chat_tools
from corral.providers.sdk_client import SdkEnvironment, sdk_client_options

SDK_ENVIRONMENT = SdkEnvironment(
    public_base_url="https://api.openai.com/v1",
    custom_headers_variable="OPENAI_CUSTOM_HEADERS",
    env_arguments=("admin_api_key", "organization", "project", "webhook_secret"),
    derived_headers=("OpenAI-Organization", "OpenAI-Project"),
    omit=openai.Omit,
)

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool-calls",
    "function_call": "tool-calls",
    "content_filter": "content-filter",
}


class OpenAIChatProvider:
    def __init__(self, config: ProviderConfig) -> None:
        self._name = config.provider
        self._compatible = config.provider == "openai-compatible"
        self._options = config.options
        self._client = openai.AsyncOpenAI(**sdk_client_options(config, SDK_ENVIRONMENT))

    async def aclose(self) -> None:
        await self._client.close()

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        try:
            stream = await self._client.chat.completions.create(**self._params(request))
            async with stream:
                async for event in self._events(stream):
                    yield event
        except openai.APIStatusError as exc:
            raise http_failure(self._name, exc.status_code, _message(exc)) from None
        except openai.APITimeoutError:
            raise connection_failure(self._name, timed_out=True) from None
        except openai.APIConnectionError:
            raise connection_failure(self._name, timed_out=False) from None
        except openai.APIError as exc:  # `data: {"error": ...}` inside a 200 stream
            raise stream_failure(self._name, exc.type or exc.code, exc.message) from None
        except ValueError as exc:  # a chunk that is not JSON
            raise stream_failure(self._name, "malformed_stream", str(exc)) from None

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": request.model,
            "messages": chat_messages(request.system, request.messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            params["tools"] = chat_tools(request.tools)
        options = {**self._options, **request.options}
        max_tokens = request.max_output_tokens or options.get("maxOutputTokens")
        if max_tokens:
            params["max_tokens" if self._compatible else "max_completion_tokens"] = max_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
        return params

    async def _events(
        self, chunks: openai.AsyncStream[ChatCompletionChunk]
    ) -> AsyncIterator[StreamEvent]:
        calls: dict[int, PendingToolCall] = {}
        finish_reason, usage = "other", Usage()
        async for chunk in chunks:
            if chunk.usage:
                usage = _usage(chunk.usage)
            for choice in chunk.choices[:1]:
                delta = choice.delta
                extra = delta.model_extra or {}
                if reasoning := extra.get("reasoning_content") or extra.get("reasoning"):
                    yield ReasoningDelta(str(reasoning))
                if delta.content:
                    yield TextDelta(delta.content)
                for fragment in delta.tool_calls or []:
                    call = calls.setdefault(fragment.index, PendingToolCall())
                    call.id = fragment.id or call.id
                    if fragment.function:
                        call.name += fragment.function.name or ""
                        call.arguments += fragment.function.arguments or ""
                if choice.finish_reason:
                    finish_reason = choice.finish_reason
        for _, call in sorted(calls.items()):
            call.id = call.id or f"call_{uuid.uuid4().hex}"  # some compatible servers send none
            yield call.complete()
        # Some compatible servers end a tool-calling turn with "stop"; the calls are what count.
        reason = "tool-calls" if calls else _FINISH_REASONS.get(finish_reason, "other")
        yield Finish(reason, usage)


def _usage(usage: CompletionUsage) -> Usage:
    details = usage.prompt_tokens_details
    return Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cache_read_tokens=(details and details.cached_tokens) or 0,
        cache_write_tokens=(details and details.cache_write_tokens) or 0,
    )


def _message(exc: openai.APIStatusError) -> str:
    """The provider's own words: the `error.message` of its body, else what the SDK made of it."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return cast(str, body["message"])
    return exc.message
