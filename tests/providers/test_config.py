"""Provider configs: the factory's choices, and keys kept out of reprs and errors."""

from __future__ import annotations

import pytest

from corral.providers.anthropic_messages import AnthropicMessagesProvider
from corral.providers.config import ProviderConfig
from corral.providers.factory import build_provider
from corral.providers.openai_chat import OpenAIChatProvider
from corral.providers.scripted import ScriptedProvider
from corral.testing.fake_openai import FakeOpenAI

from .conftest import MakeProvider, ask, failure

SECRET = "sk-very-secret-key"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("openai", OpenAIChatProvider),
        ("openai-compatible", OpenAIChatProvider),
        ("anthropic", AnthropicMessagesProvider),
        ("scripted", ScriptedProvider),
    ],
)
async def test_each_provider_name_builds_its_provider(
    name: str, kind: type, make_provider: MakeProvider
):
    assert isinstance(make_provider(name, "http://127.0.0.1:9/v1", api_key=SECRET), kind)


def test_config_checks():
    with pytest.raises(ValueError, match="unknown model provider"):
        ProviderConfig("gemini", "m")
    with pytest.raises(ValueError, match="base URL"):
        build_provider(ProviderConfig("openai-compatible", "llama3"))


def test_the_key_stays_out_of_the_repr():
    config = ProviderConfig("openai", "gpt-x", "http://h/v1", SECRET, {"timeoutSeconds": 5})

    assert SECRET not in repr(config) and SECRET not in str(config)
    assert "gpt-x" in repr(config)


async def test_the_key_stays_out_of_errors(make_provider: MakeProvider):
    with FakeOpenAI(api_key="another") as fake:
        provider = make_provider("openai", fake.base_url, api_key=SECRET)
        _, rejected = await failure(provider.stream(ask()))

    assert fake.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert rejected.status == 401 and not rejected.retryable
    assert SECRET not in f"{rejected!r} {rejected.message} {rejected.__cause__!r}"
