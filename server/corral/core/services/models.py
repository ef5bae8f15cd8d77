"""The models tag: the providers Corral speaks, the platform models (listed, reloaded and
watched), and the loopback-only gateway that runs a platform model for local tools."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from typing import Any, cast

from corral import models
from corral.caller import Caller
from corral.core.llm.platform_models import ModelRegistry, PlatformModelSpec, Snapshot
from corral.core.llm.resolution import ResolvedModel, resolve_model
from corral.core.services.event_stream import RETRY_MS
from corral.errors import CorralError
from corral.providers.base import (
    Finish,
    ModelRequest,
    ProviderError,
    StreamEvent,
    TextDelta,
    Usage,
)
from corral.providers.retry import stream_with_retry
from corral.providers.transcript_types import ModelMessage
from corral.results import SseFrame

PROVIDERS = [
    {
        "id": "openai",
        "packageName": "openai",
        "description": "OpenAI chat completions through the official openai SDK.",
        "requiresUrl": False,
        "useCases": ["chat", "tools", "streaming"],
    },
    {
        "id": "anthropic",
        "packageName": "anthropic",
        "description": "Anthropic messages through the official anthropic SDK.",
        "requiresUrl": False,
        "useCases": ["chat", "tools", "streaming", "thinking"],
    },
    {
        "id": "openai-compatible",
        "packageName": "openai",
        "description": "Any OpenAI-compatible server (vLLM, Ollama, llama.cpp) at a base URL.",
        "requiresUrl": True,
        "useCases": ["chat", "tools", "streaming", "self-hosted"],
    },
    {
        "id": "scripted",
        "packageName": "corral",
        "description": "A deterministic built-in model that answers from a script; needs no key.",
        "requiresUrl": False,
        "useCases": ["demo", "tests"],
    },
]


class ModelsService:
    def __init__(self, registry: ModelRegistry, *, ping_seconds: float) -> None:
        self.registry = registry
        self.ping_seconds = ping_seconds
        self._providers = models.ModelProviderList.model_validate({"items": PROVIDERS})

    async def list_model_providers(self, caller: Caller) -> models.ModelProviderList:
        return self._providers

    async def list_platform_models(self, caller: Caller) -> models.PlatformModelList:
        return models.PlatformModelList(items=_api_models(self.registry.snapshot))

    async def refresh_platform_models(self, caller: Caller) -> models.PlatformModelSnapshot:
        caller.require_unrestricted("reload the platform models")
        return _api_snapshot(await self.registry.refresh())

    async def stream_platform_model_events(self, caller: Caller) -> AsyncIterator[SseFrame]:
        return self._platform_model_events()

    async def generate_model_text(
        self, caller: Caller, *, body: models.ModelGenerateRequest
    ) -> models.ModelGenerateResponse:
        model = self._platform_model(body)
        text: list[str] = []
        finish = Finish("other")
        try:
            async with aclosing(self._stream(model, body)) as events:
                async for event in events:
                    if isinstance(event, TextDelta):
                        text.append(event.text)
                    elif isinstance(event, Finish):
                        finish = event
        except ProviderError as exc:
            raise CorralError("model_stream_failed", exc.message, {"model": model.name}) from None
        return models.ModelGenerateResponse(
            model=model.name,
            text="".join(text),
            finish_reason=finish.reason,
            usage=_api_usage(finish.usage),
        )

    async def stream_model_text(
        self, caller: Caller, *, body: models.ModelGenerateRequest
    ) -> AsyncIterator[SseFrame]:
        # Resolved before the stream opens: an unknown model is a 404, not a failed stream.
        model = self._platform_model(body)
        return self._text_frames(model.name, self._stream(model, body))

    def _platform_model(self, body: models.ModelGenerateRequest) -> ResolvedModel:
        ref = None if body.model is None else f"platform/{body.model}"
        return resolve_model(ref, None, self.registry)

    def _stream(
        self, model: ResolvedModel, body: models.ModelGenerateRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        """The model's answer; no tools are offered, and reasoning is not part of it."""
        provider = self.registry.provider(model.provider_config)
        # An async generator (typed as an iterator there): closed explicitly by the callers,
        # so a client that leaves stops the provider's request at once.
        return cast(
            AsyncGenerator[StreamEvent, None], stream_with_retry(provider, _request(model, body))
        )

    async def _text_frames(
        self, model: str, stream: AsyncGenerator[StreamEvent, None]
    ) -> AsyncIterator[SseFrame]:
        yield _frame("response.started", model=model)
        finish = Finish("other")
        try:
            async with aclosing(stream) as events:
                async for event in events:
                    if isinstance(event, TextDelta):
                        yield _frame("text.delta", delta=event.text)
                    elif isinstance(event, Finish):
                        finish = event
        except ProviderError as exc:
            yield _frame("response.failed", model=model, message=exc.message)
            return
        yield _frame(
            "response.completed",
            model=model,
            finish_reason=finish.reason,
            usage=_api_usage(finish.usage),
        )

    async def _platform_model_events(self) -> AsyncIterator[SseFrame]:
        with self.registry.watch() as watcher:
            # The first frame also suggests how soon to reconnect, as session streams do.
            first = _snapshot_frame("platform-models.snapshot", watcher.current)
            yield replace(first, retry_ms=RETRY_MS)
            while True:
                snapshot = await watcher.next(self.ping_seconds)
                if watcher.ended:
                    return
                if snapshot is None:
                    yield SseFrame.keepalive()  # an idle stream: keep proxies from closing it
                else:
                    yield _snapshot_frame("platform-models.updated", snapshot)


def _request(model: ResolvedModel, body: models.ModelGenerateRequest) -> ModelRequest:
    """The gateway's chat messages in the provider-neutral shape: system messages become the
    system prompt, `prompt` is the last user message."""
    chat = [(m.role.value, m.content) for m in body.messages or []]
    if body.prompt is not None:
        chat.append(("user", body.prompt))
    system = "\n\n".join(content for role, content in chat if role == "system")
    return ModelRequest(
        model=model.model_name,
        messages=[_chat_message(role, content) for role, content in chat if role != "system"],
        system=system or None,
        max_output_tokens=body.max_tokens,
        temperature=body.temperature,
    )


def _chat_message(role: str, content: str) -> ModelMessage:
    if role == "assistant":
        return {"role": "assistant", "content": content}
    return {"role": "user", "content": content}


def _snapshot_frame(event: str, snapshot: Snapshot) -> SseFrame:
    data = _api_snapshot(snapshot).model_dump_json(by_alias=True, exclude_none=True)
    return SseFrame(event, data, id=str(snapshot.revision))


def _frame(event: str, **data: Any) -> SseFrame:
    payload = models.ModelStreamEventData(**data)
    return SseFrame(event, payload.model_dump_json(by_alias=True, exclude_none=True))


def _api_usage(usage: Usage) -> models.ModelUsage:
    return models.ModelUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.input_tokens + usage.output_tokens,
    )


def _api_models(snapshot: Snapshot) -> list[models.PlatformModel]:
    return [_api_model(m) for m in snapshot.models]


def _api_model(spec: PlatformModelSpec) -> models.PlatformModel:
    return models.PlatformModel(
        id=spec.name,
        provider=spec.provider,
        model_name=spec.model_name,
        url=spec.url,
        has_key=spec.has_key,
        context_window_tokens=spec.context_window_tokens,
        metadata=None if spec.metadata is None else models.JsonObject.model_validate(spec.metadata),
        is_default=spec.is_default,
    )


def _api_snapshot(snapshot: Snapshot) -> models.PlatformModelSnapshot:
    return models.PlatformModelSnapshot(revision=snapshot.revision, items=_api_models(snapshot))
