"""A workspace model spends exactly the credential it names, and nothing of the server's.

Workspace model files are agent-writable, `url` included. Every variable the official SDKs fall
back to (keys, tokens, organization, project, custom headers, base URLs, credential profiles,
workload identity federation) is set in this process's environment to a value marked SECRET,
as an operator's server would have them; the model is resolved and streamed as a run does,
through the real SDK, against a recording fake at the model's `url`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.config import Settings
from corral.core.llm.platform_models import ModelRegistry
from corral.core.llm.resolution import resolve_model
from corral.core.workspace.catalog import Catalog, load_catalog
from corral.errors import CorralError
from corral.providers.base import ModelRequest, TextDelta
from corral.testing.fake_anthropic import FakeAnthropic
from corral.testing.fake_openai import FakeOpenAI
from corral.testing.fake_provider import FakeProviderServer

SECRET = "server-secret"
TEAM_KEY = "sk-team-allowed"  # the one server variable the allowlist names
PROFILE = "planted"

# Anthropic's credential sources shadow one another (key, then token, then profile, then
# federation), so each gets an environment of its own; OpenAI reads all of its variables.
ANTHROPIC_SOURCES: dict[str, tuple[str, ...]] = {
    "keys": ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_CUSTOM_HEADERS"),
    "token": ("ANTHROPIC_AUTH_TOKEN",),
    "profile": ("ANTHROPIC_PROFILE", "ANTHROPIC_CONFIG_DIR"),
    "federation": (
        "ANTHROPIC_FEDERATION_RULE_ID",
        "ANTHROPIC_ORGANIZATION_ID",
        "ANTHROPIC_IDENTITY_TOKEN",
    ),
}
CASES = [
    ("openai", "all"),
    ("openai-compatible", "all"),
    *(("anthropic", source) for source in ANTHROPIC_SOURCES),
]
NO_KEY = {
    "no key": "",
    "empty key": ", key: ''",
    "null key": ", key: null",
    "blank key": ", key: '   '",
    "empty keyEnv": ", keyEnv: ''",
    "blank key and keyEnv": ", key: ' ', keyEnv: ' '",
}


def server_environment(source: str, fake: FakeProviderServer, config_dir: Path) -> dict[str, str]:
    """What an operator's server may hold: every value the SDKs would read, marked SECRET."""
    openai = {
        "OPENAI_API_KEY": f"{SECRET}-openai-api-key",
        "OPENAI_ADMIN_KEY": f"{SECRET}-openai-admin-key",
        "OPENAI_ORG_ID": f"{SECRET}-openai-org-id",
        "OPENAI_PROJECT_ID": f"{SECRET}-openai-project-id",
        "OPENAI_WEBHOOK_SECRET": f"{SECRET}-openai-webhook-secret",
        # If the SDK chose it, the request would reach the fake on a path that says so.
        "OPENAI_BASE_URL": f"{fake.origin}/{SECRET}-openai-base-url/v1",
        "OPENAI_CUSTOM_HEADERS": (
            f"X-Proxy-Token: {SECRET}-openai-custom-header\n"
            f"authorization: Bearer {SECRET}-openai-custom-authorization"
        ),
    }
    anthropic = {
        "ANTHROPIC_API_KEY": f"{SECRET}-anthropic-api-key",
        "ANTHROPIC_AUTH_TOKEN": f"{SECRET}-anthropic-auth-token",
        "ANTHROPIC_WEBHOOK_SIGNING_KEY": f"{SECRET}-anthropic-webhook-key",
        "ANTHROPIC_BASE_URL": f"{fake.origin}/{SECRET}-anthropic-base-url",
        "ANTHROPIC_CUSTOM_HEADERS": (
            f"X-Proxy-Token: {SECRET}-anthropic-custom-header\n"
            f"x-api-key: {SECRET}-anthropic-custom-x-api-key\n"
            f"Authorization: Bearer {SECRET}-anthropic-custom-authorization"
        ),
        "ANTHROPIC_PROFILE": PROFILE,
        "ANTHROPIC_CONFIG_DIR": str(config_dir),
        "ANTHROPIC_FEDERATION_RULE_ID": f"{SECRET}-federation-rule",
        "ANTHROPIC_ORGANIZATION_ID": f"{SECRET}-organization",
        "ANTHROPIC_IDENTITY_TOKEN": f"{SECRET}-identity-token",
    }
    if source == "all":
        return openai | anthropic
    shadowing = {name for names in ANTHROPIC_SOURCES.values() for name in names}
    unshadowed = {k: v for k, v in anthropic.items() if k not in shadowing}
    return openai | unshadowed | {k: anthropic[k] for k in ANTHROPIC_SOURCES[source]}


def plant_profile(config_dir: Path) -> None:
    """An Anthropic credentials profile whose token (and workspace) are the server's."""
    for kind, content in (
        ("configs", {"authentication": {"type": "user_oauth"}, "workspace_id": f"{SECRET}-ws"}),
        ("credentials", {"access_token": f"{SECRET}-profile-token"}),
    ):
        path = config_dir / kind / f"{PROFILE}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))
        path.chmod(0o600)


@pytest.fixture(params=CASES, ids=[f"{p}-{s}" for p, s in CASES])
def planted(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, FakeProviderServer]]:
    """(provider, its fake) with the server's secrets in this process's environment."""
    provider, source = request.param
    config_dir = tmp_path / "anthropic-config"
    plant_profile(config_dir)
    with FakeAnthropic() if provider == "anthropic" else FakeOpenAI() as fake:
        for name, value in server_environment(source, fake, config_dir).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("TEAM_KEY", TEAM_KEY)
        yield provider, fake


def workspace(tmp_path: Path, entry: str) -> Catalog:
    root = tmp_path / "ws"
    (root / ".corral" / "models").mkdir(parents=True)
    (root / ".corral" / "models" / "m.yaml").write_text(f"tenant: {entry}\n")
    catalog = load_catalog(root)
    assert catalog.warnings == []
    return catalog


def registry(tmp_path: Path) -> ModelRegistry:
    settings = Settings(data_dir=tmp_path / "data", model_key_env_allowlist=["TEAM_KEY"])
    return ModelRegistry(settings, os.environ)  # as the server builds it


async def ask_tenant_model(tmp_path: Path, entry: str) -> str:
    """Resolve `workspace/tenant` and stream it as a run does: the answer's text."""
    models = registry(tmp_path)
    resolved = resolve_model("workspace/tenant", workspace(tmp_path, entry), models)
    try:
        stream = models.provider(resolved.provider_config).stream(
            ModelRequest(model="model-x", messages=[{"role": "user", "content": "ping"}])
        )
        return "".join([e.text async for e in stream if isinstance(e, TextDelta)])
    finally:
        await models.aclose()


def presented(fake: FakeProviderServer) -> set[str]:
    """The credential headers of every request the fake received."""
    return {
        f"{name}: {value}"
        for r in fake.requests
        for name, value in r.headers.items()
        if name in ("authorization", "x-api-key")
    }


@pytest.mark.parametrize("key", NO_KEY.values(), ids=NO_KEY.keys())
async def test_a_workspace_model_without_a_key_sends_none_of_the_servers(
    planted: tuple[str, FakeProviderServer], tmp_path: Path, key: str
) -> None:
    provider, fake = planted

    answer = await ask_tenant_model(
        tmp_path, f"{{provider: {provider}, url: '{fake.base_url}'{key}}}"
    )

    assert answer == "Fake reply to: ping"
    assert fake.carrying(SECRET) == []
    assert [r.path for r in fake.requests] == [_chat_path(provider)]


async def test_a_workspace_models_own_key_goes_alone(
    planted: tuple[str, FakeProviderServer], tmp_path: Path
) -> None:
    provider, fake = planted

    entry = f"{{provider: {provider}, url: '{fake.base_url}', key: sk-tenant-own}}"
    assert await ask_tenant_model(tmp_path, entry) == "Fake reply to: ping"

    assert fake.carrying(SECRET) == []
    assert presented(fake) == {"authorization: Bearer sk-tenant-own"}


async def test_an_allowed_key_variable_is_spent_and_nothing_else(
    planted: tuple[str, FakeProviderServer], tmp_path: Path
) -> None:
    provider, fake = planted

    entry = f"{{provider: {provider}, url: '{fake.base_url}', keyEnv: TEAM_KEY}}"
    assert await ask_tenant_model(tmp_path, entry) == "Fake reply to: ping"

    assert fake.carrying(SECRET) == []
    assert presented(fake) == {f"authorization: Bearer {TEAM_KEY}"}


@pytest.mark.parametrize(
    "variable", ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_ORG_ID"]
)
async def test_a_key_variable_off_the_allowlist_is_refused_before_any_request(
    planted: tuple[str, FakeProviderServer], tmp_path: Path, variable: str
) -> None:
    provider, fake = planted
    catalog = workspace(
        tmp_path, f"{{provider: {provider}, url: '{fake.base_url}', keyEnv: {variable}}}"
    )

    with pytest.raises(CorralError) as refused:
        resolve_model("workspace/tenant", catalog, registry(tmp_path))

    assert (refused.value.code, refused.value.status) == ("model_key_not_allowed", 403)
    assert SECRET not in f"{refused.value.message} {refused.value.details}"
    assert fake.requests == []


def _chat_path(provider: str) -> str:
    return "/v1/messages" if provider == "anthropic" else "/v1/chat/completions"
