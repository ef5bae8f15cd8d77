"""What the two official SDK clients are given alike, and how a client is sealed against the
server's environment.

Each SDK fills what its constructor is not given from the process environment (checked in the
pinned versions). openai: OPENAI_API_KEY, OPENAI_ADMIN_KEY, OPENAI_ORG_ID, OPENAI_PROJECT_ID,
OPENAI_WEBHOOK_SECRET, OPENAI_BASE_URL, and the "Name: value" lines of OPENAI_CUSTOM_HEADERS
merged into every request's headers. anthropic: ANTHROPIC_API_KEY, then ANTHROPIC_AUTH_TOKEN, a
credentials profile (ANTHROPIC_PROFILE, ANTHROPIC_CONFIG_DIR, the active profile on disk) or
workload identity federation (ANTHROPIC_IDENTITY_TOKEN...), then ANTHROPIC_WEBHOOK_SIGNING_KEY,
ANTHROPIC_BASE_URL and ANTHROPIC_CUSTOM_HEADERS.

Only a config with `sdk_env_fallbacks` (the operator's openai and anthropic platform models)
leaves them to the SDK. Any other gets a sealed client, which takes none of them:
- its credential is its own key, else a placeholder, and is set as the `Authorization` header
  (an explicit key is also what turns anthropic's profile and federation discovery off);
- every other argument the SDK would read is given, empty;
- its base URL is the model's `url`, else the provider's public endpoint: never the base URL
  variable, which may name a proxy that adds the operator's key;
- the headers named in the custom-headers variable, and those the SDK derives from the emptied
  arguments, are removed with the SDK's `Omit()`.
HTTP proxy and TLS variables (HTTPS_PROXY, SSL_CERT_FILE...) still apply: they are the
operator's way out of the host, not something sent to the model's URL.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2

from corral.providers.config import ProviderConfig

# What a sealed client without a key of its own presents: the SDKs refuse to run without one.
PLACEHOLDER_KEY = "corral-no-key"


@dataclass(frozen=True)
class SdkEnvironment:
    """What one SDK would take from the environment, and how to keep it out."""

    public_base_url: str
    custom_headers_variable: str
    # Constructor arguments the SDK reads from a variable when they are None.
    env_arguments: tuple[str, ...]
    # Default headers the SDK derives from those arguments (sent even when they are empty).
    derived_headers: tuple[str, ...]
    omit: Callable[[], object]  # the SDK's Omit, which removes a default header


def sdk_client_options(config: ProviderConfig, sdk: SdkEnvironment) -> dict[str, Any]:
    """The SDK client's constructor arguments for `config`."""
    read_s = config.read_timeout_s
    options: dict[str, Any] = {
        "api_key": config.api_key or None,  # None: the SDK's own variable
        "base_url": config.base_url,
        "max_retries": 0,  # corral.providers.retry decides, knowing what was already streamed
        "timeout": httpx2.Timeout(read_s, connect=min(read_s, 10.0)),
    }
    if config.sdk_env_fallbacks:
        return options
    key = config.api_key or PLACEHOLDER_KEY
    removed = (*sdk.derived_headers, *_header_names(os.environ.get(sdk.custom_headers_variable)))
    headers = {name: sdk.omit() for name in removed}
    headers["Authorization"] = f"Bearer {key}"  # last: wins over any casing of an env header
    return {
        **options,
        **dict.fromkeys(sdk.env_arguments, ""),
        "api_key": key,
        "base_url": config.base_url or sdk.public_base_url,
        "default_headers": headers,
    }


def _header_names(value: str | None) -> list[str]:
    """The header names in a custom-headers variable, parsed as both SDKs parse it."""
    lines = (value or "").split("\n")
    return [line[: line.find(":")].strip() for line in lines if ":" in line]
