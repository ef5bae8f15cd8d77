"""The platform model registry: files of the models directory, the default model, refreshes
and their watchers, and the shared providers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from corral.config import Settings
from corral.core.llm.platform_models import ModelRegistry, PlatformModelSpec, Snapshot
from corral.errors import CorralError
from corral.providers.config import ProviderConfig

OPENAI_KEY = {"OPENAI_API_KEY": "sk-platform"}
ANTHROPIC_KEY = {"ANTHROPIC_API_KEY": "sk-ant-platform"}


def registry(tmp_path: Path, env: dict[str, str] | None = None, **settings: Any) -> ModelRegistry:
    return ModelRegistry(Settings(data_dir=tmp_path, **settings), env or {})


def write_models(tmp_path: Path, filename: str, text: str) -> Path:
    path = tmp_path / "models" / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def names(snapshot: Snapshot) -> list[str]:
    return [m.name for m in snapshot.models]


def test_reads_every_field_of_a_model(tmp_path: Path) -> None:
    write_models(
        tmp_path,
        "main.yaml",
        "gpt:\n  provider: openai\n  name: gpt-4.1\n  key: sk-inline\n"
        "  contextWindowTokens: 128000\n  metadata: {tier: fast}\n"
        "local:\n  provider: openai-compatible\n  url: http://127.0.0.1:11434/v1\n"
        "  keyEnv: LOCAL_KEY\n  options: {timeoutSeconds: 30}\n",
    )
    write_models(tmp_path, "more.yml", "claude: {provider: anthropic, name: claude-x}\n")

    snapshot = registry(tmp_path, {"LOCAL_KEY": "sk-local"}).snapshot

    assert snapshot.revision == 0
    assert names(snapshot) == ["claude", "default", "gpt", "local"]
    assert snapshot.get("gpt") == PlatformModelSpec(
        name="gpt",
        provider="openai",
        model_name="gpt-4.1",
        api_key="sk-inline",
        has_key=True,
        context_window_tokens=128000,
        metadata={"tier": "fast"},
    )
    local = snapshot.get("local")
    assert local is not None and (local.api_key, local.has_key) == ("sk-local", True)
    assert local.url == "http://127.0.0.1:11434/v1"
    config = local.provider_config()
    assert (config.provider, config.model_name, config.base_url) == (
        "openai-compatible",
        "local",
        "http://127.0.0.1:11434/v1",
    )
    assert (config.api_key, config.options) == ("sk-local", {"timeoutSeconds": 30})
    claude = snapshot.get("claude")
    assert claude is not None and (claude.api_key, claude.has_key) == (None, False)
    assert "sk-inline" not in repr(snapshot)


def test_a_model_without_a_key_uses_the_sdk_variable(tmp_path: Path) -> None:
    write_models(tmp_path, "m.yaml", "gpt: {provider: openai}\nclaude: {provider: anthropic}\n")

    snapshot = registry(tmp_path, OPENAI_KEY).snapshot

    gpt, claude = snapshot.get("gpt"), snapshot.get("claude")
    assert gpt is not None and (gpt.api_key, gpt.has_key) == (None, True)
    assert claude is not None and claude.has_key is False


def test_an_unset_key_variable_means_no_key(tmp_path: Path) -> None:
    write_models(tmp_path, "m.yaml", "gpt: {provider: openai, keyEnv: GPT_KEY}\n")

    gpt = registry(tmp_path, OPENAI_KEY).snapshot.get("gpt")

    assert gpt is not None and (gpt.api_key, gpt.has_key) == (None, False)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("gpt: [provider, openai\n", "invalid YAML"),
        ("- gpt\n", "mapping"),
        ("gpt: openai\n", "mapping"),
        ("gpt: {provider: bard}\n", "provider must be one of"),
        ("gpt: {name: gpt-4.1}\n", "provider must be one of"),
        ("local: {provider: openai-compatible}\n", "needs a url"),
        ("gpt: {provider: openai, key: a, keyEnv: B}\n", "not both"),
        ("gpt: {provider: openai, contextWindowTokens: 0}\n", "positive integer"),
        ("gpt: {provider: openai, default: 'yes'}\n", "boolean"),
        ("gpt: {provider: openai, options: [1]}\n", "options must be a mapping"),
        ("'bad name': {provider: openai}\n", "must match"),
    ],
)
def test_a_malformed_file_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, problem: str
) -> None:
    write_models(tmp_path, "bad.yaml", text)
    write_models(tmp_path, "good.yaml", "fine: {provider: scripted}\n")

    with caplog.at_level(logging.WARNING, logger="corral.models"):
        snapshot = registry(tmp_path).snapshot

    assert names(snapshot) == ["default", "fine"]
    assert any("bad.yaml" in r.getMessage() and problem in r.getMessage() for r in caplog.records)


def test_the_first_definition_of_a_name_wins(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_models(tmp_path, "a.yaml", "gpt: {provider: openai, name: first}\n")
    write_models(tmp_path, "b.yaml", "gpt: {provider: openai, name: second}\n")

    with caplog.at_level(logging.WARNING, logger="corral.models"):
        gpt = registry(tmp_path).snapshot.get("gpt")

    assert gpt is not None and gpt.model_name == "first"
    assert any("duplicate" in r.getMessage() for r in caplog.records)


def test_a_symlinked_file_of_the_operator_is_read(tmp_path: Path) -> None:
    # Kubernetes mounts config maps as symlinks into a hidden directory.
    target = tmp_path / "elsewhere" / "gpt.yaml"
    target.parent.mkdir()
    target.write_text("gpt: {provider: openai}\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "gpt.yaml").symlink_to(target)

    assert names(registry(tmp_path).snapshot) == ["default", "gpt"]


def test_models_dir_setting(tmp_path: Path) -> None:
    elsewhere = tmp_path / "operator-models"
    elsewhere.mkdir()
    (elsewhere / "m.yaml").write_text("gpt: {provider: openai}\n")

    assert names(registry(tmp_path, models_dir=elsewhere).snapshot) == ["default", "gpt"]


# -- the default model ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "provider", "model_name", "has_key"),
    [
        ({}, "scripted", "scripted", False),
        (OPENAI_KEY, "openai", "gpt-test", True),
        (ANTHROPIC_KEY, "anthropic", "claude-test", True),
        ({**ANTHROPIC_KEY, **OPENAI_KEY}, "openai", "gpt-test", True),
        ({"OPENAI_API_KEY": ""}, "scripted", "scripted", False),
    ],
)
def test_without_a_default_in_the_directory_the_environment_decides(
    tmp_path: Path, env: dict[str, str], provider: str, model_name: str, has_key: bool
) -> None:
    snapshot = registry(
        tmp_path, env, default_openai_model="gpt-test", default_anthropic_model="claude-test"
    ).snapshot

    assert snapshot.models == (
        PlatformModelSpec("default", provider, model_name, has_key=has_key, is_default=True),
    )
    assert snapshot.default.api_key is None  # the SDK reads its own variable (and base URL)
    assert snapshot.get("default") is snapshot.default


def test_an_entry_named_default_is_the_default(tmp_path: Path) -> None:
    write_models(tmp_path, "m.yaml", "default: {provider: anthropic, name: claude-x}\n")

    snapshot = registry(tmp_path, OPENAI_KEY).snapshot

    assert names(snapshot) == ["default"]
    assert (snapshot.default.provider, snapshot.default.model_name) == ("anthropic", "claude-x")


def test_an_entry_marked_default_is_the_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_models(
        tmp_path,
        "m.yaml",
        "zeta: {provider: openai, default: true}\nbeta: {provider: openai, default: true}\n"
        "gamma: {provider: openai}\n",
    )

    with caplog.at_level(logging.WARNING, logger="corral.models"):
        snapshot = registry(tmp_path).snapshot

    assert names(snapshot) == ["beta", "gamma", "zeta"]
    assert [m.name for m in snapshot.models if m.is_default] == ["beta"]
    assert snapshot.get("default") is snapshot.get("beta")
    assert any("marked default" in r.getMessage() for r in caplog.records)


# -- refresh and watchers ------------------------------------------------------------------


async def test_refresh_makes_a_revision_only_for_a_change(tmp_path: Path) -> None:
    models = registry(tmp_path)
    assert (await models.refresh()).revision == 0

    write_models(tmp_path, "m.yaml", "gpt: {provider: openai}\n")
    snapshot = await models.refresh()

    assert (snapshot.revision, names(snapshot)) == (1, ["default", "gpt"])
    assert models.snapshot is snapshot
    assert (await models.refresh()).revision == 1


async def test_refresh_reads_the_environment_again(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    models = ModelRegistry(Settings(data_dir=tmp_path), env)
    env.update(ANTHROPIC_KEY)

    snapshot = await models.refresh()

    assert (snapshot.revision, snapshot.default.provider) == (1, "anthropic")


async def test_a_watcher_gets_every_newer_snapshot(tmp_path: Path) -> None:
    models = registry(tmp_path)

    with models.watch() as watcher:
        write_models(tmp_path, "m.yaml", "gpt: {provider: openai}\n")
        await models.refresh()
        newer = await watcher.next(10)

    assert (watcher.current.revision, names(watcher.current)) == (0, ["default"])
    assert newer is not None
    assert (newer.revision, names(newer)) == (1, ["default", "gpt"])


async def test_a_slow_watcher_skips_to_the_newest_snapshot(tmp_path: Path) -> None:
    models = registry(tmp_path)

    with models.watch() as watcher:
        for n in range(3):
            write_models(tmp_path, f"m{n}.yaml", f"model{n}: {{provider: scripted}}\n")
            await models.refresh()
        newest = await watcher.next(10)
        nothing_more = await watcher.next(0.1)

    assert newest is models.snapshot and newest.revision == 3
    assert nothing_more is None


async def test_a_watcher_that_left_is_told_nothing(tmp_path: Path) -> None:
    models = registry(tmp_path)
    with models.watch() as watcher:
        pass

    write_models(tmp_path, "m.yaml", "gpt: {provider: openai}\n")
    await models.refresh()

    assert await watcher.next(0.1) is None


# -- providers -----------------------------------------------------------------------------


async def test_providers_are_shared_per_configuration(tmp_path: Path) -> None:
    write_models(
        tmp_path,
        "m.yaml",
        "a: {provider: openai, key: sk-a}\nb: {provider: openai, key: sk-b}\n"
        "a2: {provider: openai, name: a, key: sk-a}\n",
    )
    models = registry(tmp_path)
    config = {m.name: m.provider_config() for m in models.snapshot.models}

    first = models.provider(config["a"])

    assert models.provider(config["a"]) is first
    assert models.provider(config["a2"]) is first  # the same model, key and URL
    assert models.provider(config["b"]) is not first
    await models.aclose()
    assert models.provider(config["a"]) is not first
    await models.aclose()


def test_a_provider_that_cannot_be_built_is_a_model_error(tmp_path: Path) -> None:
    compatible = ProviderConfig(provider="openai-compatible", model_name="m")  # no base URL

    with pytest.raises(CorralError) as caught:
        registry(tmp_path).provider(compatible)

    assert (caught.value.code, caught.value.status) == ("model_config_invalid", 409)
