"""The model providers Corral speaks, as `GET /api/v1/model-providers` lists them."""

from __future__ import annotations

from corral import models
from corral.core.caller import Caller

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
    def __init__(self) -> None:
        self._providers = models.ModelProviderList.model_validate({"items": PROVIDERS})

    async def list_model_providers(self, caller: Caller) -> models.ModelProviderList:
        return self._providers
