"""The SDK clients built for a config: a platform model's reads the SDK's variables, a sealed one
(workspace models, openai-compatible servers) none, as the real SDKs see them. What sealed
clients send over the wire is checked in tests/models/test_workspace_model_credentials.py."""

from __future__ import annotations

import anthropic
import openai
import pytest

from corral.providers import anthropic_messages, openai_chat
from corral.providers.config import ProviderConfig, ProviderName
from corral.providers.sdk_client import PLACEHOLDER_KEY, sdk_client_options

SECRET = "server-secret"
OPENAI_VARIABLES = {
    "OPENAI_API_KEY": "api_key",
    "OPENAI_ADMIN_KEY": "admin_api_key",
    "OPENAI_ORG_ID": "organization",
    "OPENAI_PROJECT_ID": "project",
    "OPENAI_WEBHOOK_SECRET": "webhook_secret",
}
ANTHROPIC_VARIABLES = {
    "ANTHROPIC_AUTH_TOKEN": "auth_token",
    "ANTHROPIC_WEBHOOK_SIGNING_KEY": "webhook_key",
}


@pytest.fixture(autouse=True)
def server_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*OPENAI_VARIABLES, *ANTHROPIC_VARIABLES):
        monkeypatch.setenv(name, f"{SECRET}-{name}")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://{SECRET}.invalid/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://{SECRET}.invalid")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", f"X-Proxy-Token: {SECRET}-openai-header")
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", f"X-Proxy-Token: {SECRET}-anthropic-header")


def openai_client(config: ProviderConfig) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(**sdk_client_options(config, openai_chat.SDK_ENVIRONMENT))


def anthropic_client(config: ProviderConfig) -> anthropic.AsyncAnthropic:
    options = sdk_client_options(config, anthropic_messages.SDK_ENVIRONMENT)
    return anthropic.AsyncAnthropic(**options)


def sent_headers(client: openai.AsyncOpenAI | anthropic.AsyncAnthropic) -> dict[str, object]:
    """The client's default headers that a request carries (an `Omit` removes one)."""
    return {k: v for k, v in client.default_headers.items() if isinstance(v, str)}


@pytest.mark.parametrize("provider", ["openai", "openai-compatible"])
async def test_a_sealed_openai_client_reads_no_variable(provider: ProviderName) -> None:
    client = openai_client(ProviderConfig(provider, "m", "http://127.0.0.1:1/v1"))

    assert client.api_key == PLACEHOLDER_KEY
    assert {attr: getattr(client, attr) for attr in list(OPENAI_VARIABLES.values())[1:]} == {
        "admin_api_key": "",
        "organization": "",
        "project": "",
        "webhook_secret": "",
    }
    assert SECRET not in str(sent_headers(client))
    assert sent_headers(client)["Authorization"] == f"Bearer {PLACEHOLDER_KEY}"
    await client.close()


async def test_a_sealed_anthropic_client_reads_no_variable() -> None:
    client = anthropic_client(ProviderConfig("anthropic", "m", "http://127.0.0.1:1", "sk-own"))

    assert (client.api_key, client.auth_token, client.webhook_key) == ("sk-own", None, "")
    assert client.credentials is None  # no profile, no federation
    assert SECRET not in str(sent_headers(client))
    await client.close()


async def test_without_a_url_a_sealed_client_goes_to_the_public_endpoint() -> None:
    # Not the base URL variable: it may name a proxy that adds the operator's key.
    sealed_openai = openai_client(ProviderConfig("openai", "m"))
    sealed_anthropic = anthropic_client(ProviderConfig("anthropic", "m"))

    assert str(sealed_openai.base_url) == "https://api.openai.com/v1/"
    assert str(sealed_anthropic.base_url) == "https://api.anthropic.com"
    await sealed_openai.close()
    await sealed_anthropic.close()


async def test_a_platform_models_client_reads_the_sdks_variables() -> None:
    platform_openai = openai_client(ProviderConfig("openai", "m", sdk_env_fallbacks=True))
    platform_anthropic = anthropic_client(ProviderConfig("anthropic", "m", sdk_env_fallbacks=True))

    for variable, attr in OPENAI_VARIABLES.items():
        assert getattr(platform_openai, attr) == f"{SECRET}-{variable}"
    assert str(platform_openai.base_url) == f"http://{SECRET}.invalid/v1/"
    assert sent_headers(platform_openai)["X-Proxy-Token"] == f"{SECRET}-openai-header"
    for variable, attr in ANTHROPIC_VARIABLES.items():
        assert getattr(platform_anthropic, attr) == f"{SECRET}-{variable}"
    assert str(platform_anthropic.base_url).rstrip("/") == f"http://{SECRET}.invalid"
    await platform_openai.close()
    await platform_anthropic.close()


def test_only_openai_and_anthropic_models_may_read_the_environment() -> None:
    providers: list[ProviderName] = ["openai-compatible", "scripted"]
    for provider in providers:
        with pytest.raises(ValueError, match="nothing from the environment"):
            ProviderConfig(provider, "m", "http://127.0.0.1:1/v1", sdk_env_fallbacks=True)
