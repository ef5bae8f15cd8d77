"""Model refs resolved to provider configurations, and what a workspace model may spend."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.config import Settings
from corral.core.llm.platform_models import ModelRegistry
from corral.core.llm.resolution import resolve_model
from corral.core.workspace.catalog import Catalog, load_catalog
from corral.errors import CorralError

ENV = {"OPENAI_API_KEY": "sk-platform", "TEAM_KEY": "sk-team"}


def registry(tmp_path: Path, allowlist: list[str] | None = None) -> ModelRegistry:
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    (models / "m.yaml").write_text(
        "gpt: {provider: openai, name: gpt-4.1, contextWindowTokens: 1000}\n"
        "script: {provider: scripted, options: {script: [{text: hi}]}}\n"
    )
    settings = Settings(data_dir=tmp_path, model_key_env_allowlist=allowlist or [])
    return ModelRegistry(settings, ENV)


def workspace(tmp_path: Path, models_yaml: str) -> Catalog:
    root = tmp_path / "ws"
    (root / ".corral" / "models").mkdir(parents=True)
    (root / ".corral" / "models" / "m.yaml").write_text(models_yaml)
    catalog = load_catalog(root)
    assert catalog.warnings == []
    return catalog


def refused(ref: str, catalog: Catalog | None, models: ModelRegistry) -> CorralError:
    with pytest.raises(CorralError) as caught:
        resolve_model(ref, catalog, models)
    return caught.value


@pytest.mark.parametrize("ref", [None, "platform/default"])
def test_no_ref_is_the_platform_default(tmp_path: Path, ref: str | None) -> None:
    resolved = resolve_model(ref, None, registry(tmp_path))

    assert (resolved.ref, resolved.source) == ("platform/default", "platform")
    assert resolved.name == "default"
    assert (resolved.provider, resolved.model_name) == ("openai", "gpt-4.1")
    config = resolved.provider_config
    assert (config.provider, config.model_name, config.api_key) == ("openai", "gpt-4.1", None)


def test_a_platform_model(tmp_path: Path) -> None:
    resolved = resolve_model("platform/gpt", Catalog(), registry(tmp_path))

    assert (resolved.name, resolved.model_name, resolved.context_window_tokens) == (
        "gpt",
        "gpt-4.1",
        1000,
    )
    script = resolve_model("platform/script", None, registry(tmp_path)).provider_config
    assert (script.provider, script.options) == ("scripted", {"script": [{"text": "hi"}]})


@pytest.mark.parametrize(
    "ref", ["platform/nope", "workspace/nope", "workspace/gpt", "gpt", "other/gpt", "platform/"]
)
def test_an_unknown_ref_is_model_not_found(tmp_path: Path, ref: str) -> None:
    error = refused(ref, Catalog(), registry(tmp_path))

    assert (error.code, error.status, error.details) == ("model_not_found", 404, {"model": ref})


def test_a_workspace_model_needs_a_workspace(tmp_path: Path) -> None:
    catalog = workspace(tmp_path, "local: {provider: scripted}\n")

    assert resolve_model("workspace/local", catalog, registry(tmp_path)).source == "workspace"
    assert refused("workspace/local", None, registry(tmp_path)).code == "model_not_found"


def test_a_workspace_model_with_its_own_key(tmp_path: Path) -> None:
    catalog = workspace(
        tmp_path, "fast: {provider: openai, name: gpt-mini, key: sk-own, url: http://x/v1}\n"
    )

    resolved = resolve_model("workspace/fast", catalog, registry(tmp_path))

    assert (resolved.ref, resolved.source, resolved.name) == ("workspace/fast", "workspace", "fast")
    config = resolved.provider_config
    assert (config.provider, config.model_name, config.base_url, config.api_key) == (
        "openai",
        "gpt-mini",
        "http://x/v1",
        "sk-own",
    )


def test_a_workspace_key_variable_must_be_allowed(tmp_path: Path) -> None:
    catalog = workspace(tmp_path, "team: {provider: anthropic, keyEnv: TEAM_KEY}\n")

    error = refused("workspace/team", catalog, registry(tmp_path))

    assert (error.code, error.status) == ("model_key_not_allowed", 403)
    assert error.details == {"model": "workspace/team", "keyEnv": "TEAM_KEY"}
    assert "sk-team" not in error.message
    allowed = resolve_model("workspace/team", catalog, registry(tmp_path, ["TEAM_KEY"]))
    assert allowed.provider_config.api_key == "sk-team"


def test_an_allowed_but_unset_variable_is_model_key_missing(tmp_path: Path) -> None:
    catalog = workspace(tmp_path, "team: {provider: openai, keyEnv: UNSET_KEY}\n")

    error = refused("workspace/team", catalog, registry(tmp_path, ["UNSET_KEY"]))

    assert (error.code, error.status) == ("model_key_missing", 409)


@pytest.mark.parametrize("key", ["", ", key: ''", ", key: null", ", key: '  '", ", keyEnv: ''"])
def test_a_keyless_workspace_model_gets_no_key_and_a_sealed_client(
    tmp_path: Path, key: str
) -> None:
    # Given no key the SDK would send OPENAI_API_KEY, to whatever `url` the agent wrote.
    catalog = workspace(tmp_path, f"sneaky: {{provider: openai, url: http://x.example/v1{key}}}\n")

    for allowlist in ([], ["OPENAI_API_KEY"]):  # listing it allows naming it, not a fallback
        config = resolve_model("workspace/sneaky", catalog, registry(tmp_path, allowlist))
        assert (config.provider_config.api_key, config.provider_config.sdk_env_fallbacks) == (
            None,
            False,
        )


def test_the_sdk_variable_is_a_key_variable_like_any_other(tmp_path: Path) -> None:
    catalog = workspace(tmp_path, "named: {provider: openai, keyEnv: OPENAI_API_KEY}\n")

    error = refused("workspace/named", catalog, registry(tmp_path))

    assert (error.code, error.details) == (
        "model_key_not_allowed",
        {"model": "workspace/named", "keyEnv": "OPENAI_API_KEY"},
    )
    allowed = resolve_model("workspace/named", catalog, registry(tmp_path, ["OPENAI_API_KEY"]))
    assert allowed.provider_config.api_key == "sk-platform"


def test_platform_models_of_openai_and_anthropic_alone_use_the_sdk_variables(
    tmp_path: Path,
) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "more.yaml").write_text(
        "local: {provider: openai-compatible, url: http://127.0.0.1:1/v1}\n"
        "claude: {provider: anthropic}\n"
    )
    models = registry(tmp_path)

    fallbacks = {
        ref: resolve_model(ref, None, models).provider_config.sdk_env_fallbacks
        for ref in ("platform/gpt", "platform/claude", "platform/local", "platform/script")
    }

    assert fallbacks == {
        "platform/gpt": True,
        "platform/claude": True,
        "platform/local": False,
        "platform/script": False,
    }


@pytest.mark.parametrize(
    "entry", ["{provider: scripted}", "{provider: openai-compatible, url: http://127.0.0.1:1/v1}"]
)
def test_keyless_providers_need_no_key(tmp_path: Path, entry: str) -> None:
    catalog = workspace(tmp_path, f"free: {entry}\n")
    resolved = resolve_model("workspace/free", catalog, registry(tmp_path))

    assert resolved.provider_config.api_key is None
