"""How one model endpoint is configured: which provider, which model, where, with which key.

`sdk_env_fallbacks` says whether the provider's SDK may fill what the config leaves unset (key,
base URL, organization, extra headers...) from the server's environment, as the SDKs do by
default. Only the operator's own `openai` and `anthropic` platform models may; every other
config gets a client sealed against the environment (`corral.providers.sdk_client`).

`options` holds provider hints (all optional):
- `timeoutSeconds`: the HTTP read timeout, i.e. the longest silence tolerated mid-stream.
- `maxOutputTokens`: the default output cap when a request sets none.
- `thinking` (anthropic): `true` (adaptive), a budget in tokens, or a raw thinking object.
- `promptCaching` (anthropic): `false` turns off automatic prompt caching.
- `script`, `delayMs` (scripted): see `corral.providers.scripted`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

ProviderName = Literal["openai", "anthropic", "openai-compatible", "scripted"]
PROVIDER_NAMES: frozenset[str] = frozenset(get_args(ProviderName))
# The providers whose SDK has variables of its own (an openai-compatible server is a third party).
ENV_READING_PROVIDERS = frozenset({"openai", "anthropic"})
# Reasoning models may think for minutes before their first byte.
DEFAULT_READ_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class ProviderConfig:
    provider: ProviderName
    model_name: str
    base_url: str | None = None
    # Kept out of the repr so that a logged or raised config never shows the key.
    api_key: str | None = field(default=None, repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    sdk_env_fallbacks: bool = False

    def __post_init__(self) -> None:
        if self.provider not in PROVIDER_NAMES:
            raise ValueError(f"unknown model provider {self.provider!r}")
        if self.sdk_env_fallbacks and self.provider not in ENV_READING_PROVIDERS:
            raise ValueError(f"a {self.provider} model takes nothing from the environment")

    @property
    def read_timeout_s(self) -> float:
        return float(self.options.get("timeoutSeconds", DEFAULT_READ_TIMEOUT_S))
