"""One configured provider from its config.

The SDK modules are imported on first use: importing `openai` and `anthropic` costs seconds,
which every server start and `corral` command would otherwise pay, even with the scripted model.
"""

from __future__ import annotations

from corral.providers.base import ModelProvider
from corral.providers.config import ProviderConfig
from corral.providers.scripted import ScriptedProvider


def build_provider(config: ProviderConfig) -> ModelProvider:
    if config.provider == "scripted":
        return ScriptedProvider(config)
    if config.provider == "anthropic":
        from corral.providers.anthropic_messages import AnthropicMessagesProvider

        return AnthropicMessagesProvider(config)
    if config.provider == "openai-compatible" and not config.base_url:
        raise ValueError("an openai-compatible model needs a base URL")
    from corral.providers.openai_chat import OpenAIChatProvider

    return OpenAIChatProvider(config)
