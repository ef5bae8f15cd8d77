"""Platform models: the models the operator offers every workspace, referenced as `platform/<name>`.

Every `*.yaml` / `*.yml` file of the models directory (setting `models_dir`) maps names to models::

    gpt:
      provider: openai        # openai | anthropic | openai-compatible | scripted
      name: gpt-4.1           # the provider's model name; defaults to the entry's name
      key: sk-...             # or keyEnv: GPT_KEY (a variable of the server's environment);
                              # neither: the SDK's own variable (OPENAI_API_KEY, ANTHROPIC_API_KEY)
      url: https://...        # base URL; required for openai-compatible
      contextWindowTokens: 128000
      default: true           # the model `platform/default` means
      options: {...}          # for the provider, e.g. the scripted model's script
      metadata: {...}         # shown to clients as is

A broken file is skipped with a logged warning; the first definition of a name wins.

`platform/default` always resolves. It is the model marked `default: true`, else the entry named
`default`, else one made from the environment: OpenAI (`default_openai_model`) when
OPENAI_API_KEY is set, else Anthropic (`default_anthropic_model`) when ANTHROPIC_API_KEY is set,
else the scripted model, which needs no key. OpenAI wins when both keys are set. The SDKs read
the key and their base URL variable (OPENAI_BASE_URL, ANTHROPIC_BASE_URL) themselves: platform
`openai` and `anthropic` models are the operator's, so their SDK may read its variables
(`ProviderConfig.sdk_env_fallbacks`); an `openai-compatible` one is sealed like a workspace model.

The registry also builds providers (cached by configuration: each holds an HTTP client) and
tells watchers about every change the `refresh()` of the models directory brings.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from corral.config import Settings
from corral.core.workspace.config_files import (
    InvalidFile,
    flag,
    mapping,
    optional,
    positive_int,
    read_yaml_mapping,
)
from corral.core.workspace.declarations import MODEL_PROVIDERS, NAME_PATTERN
from corral.errors import CorralError
from corral.providers.base import ModelProvider
from corral.providers.config import ENV_READING_PROVIDERS, ProviderConfig, ProviderName
from corral.providers.factory import build_provider

log = logging.getLogger("corral.models")

DEFAULT_NAME = "default"
# The variable each SDK reads its key from when it is given none.
SDK_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


@dataclass(frozen=True)
class PlatformModelSpec:
    name: str
    provider: str
    model_name: str
    url: str | None = None
    api_key: str | None = field(default=None, repr=False)  # None: the SDK's own variable
    has_key: bool = False
    context_window_tokens: int | None = None
    is_default: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] | None = None

    def provider_config(self) -> ProviderConfig:
        return ProviderConfig(
            provider=cast(ProviderName, self.provider),  # checked when loaded
            model_name=self.model_name,
            base_url=self.url,
            api_key=self.api_key,
            options=self.options,
            sdk_env_fallbacks=self.provider in ENV_READING_PROVIDERS,
        )


@dataclass(frozen=True)
class Snapshot:
    """The platform models at one revision, sorted by name; exactly one is the default."""

    revision: int
    models: tuple[PlatformModelSpec, ...]

    @property
    def default(self) -> PlatformModelSpec:
        return next(m for m in self.models if m.is_default)

    def get(self, name: str) -> PlatformModelSpec | None:
        if name == DEFAULT_NAME:
            return self.default
        return next((m for m in self.models if m.name == name), None)


class ModelRegistry:
    def __init__(self, settings: Settings, env: Mapping[str, str]) -> None:
        self.directory = settings.platform_models_dir
        self.env = env
        self.key_env_allowlist = frozenset(settings.model_key_env_allowlist)
        self._default_models = {
            "openai": settings.default_openai_model,
            "anthropic": settings.default_anthropic_model,
        }
        self.snapshot = Snapshot(0, self._load())
        self._refreshing = asyncio.Lock()
        self._watchers: set[Watcher] = set()
        self._providers: dict[str, ModelProvider] = {}
        self._closed = False

    async def refresh(self) -> Snapshot:
        """Reload the models directory and the environment; a change makes a new revision."""
        async with self._refreshing:
            loaded = await asyncio.to_thread(self._load)
            if loaded != self.snapshot.models:
                self.snapshot = Snapshot(self.snapshot.revision + 1, loaded)
                for watcher in self._watchers:
                    watcher.offer(self.snapshot)
            return self.snapshot

    @contextmanager
    def watch(self) -> Iterator[Watcher]:
        """A watcher of the snapshots that follow the current one, until the block ends."""
        watcher = Watcher(self.snapshot)
        if self._closed:
            watcher.end()
        self._watchers.add(watcher)
        try:
            yield watcher
        finally:
            self._watchers.discard(watcher)

    def end_watches(self) -> None:
        """End every watch, now and later (the server is shutting down)."""
        self._closed = True
        for watcher in self._watchers:
            watcher.end()

    def provider(self, config: ProviderConfig) -> ModelProvider:
        """The provider for `config`, built once and shared by every run that uses it (every
        field counts: a workspace model never gets a platform model's client)."""
        key = json.dumps(asdict(config), sort_keys=True, default=str)
        provider = self._providers.get(key)
        if provider is None:
            try:
                provider = self._providers[key] = build_provider(config)
            except ValueError as exc:  # a workspace model the catalog let through
                raise CorralError("model_config_invalid", str(exc)) from None
        return provider

    async def aclose(self) -> None:
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            await provider.aclose()

    def _load(self) -> tuple[PlatformModelSpec, ...]:
        by_name: dict[str, PlatformModelSpec] = {}
        for path in _model_files(self.directory):
            try:
                entries = list(self._parse(path))
            except InvalidFile as problem:
                log.warning("platform model file %s skipped: %s", path, problem)
                continue
            for entry in entries:
                if entry.name in by_name:
                    log.warning("%s: duplicate platform model %r ignored", path, entry.name)
                else:
                    by_name[entry.name] = entry
        models = [by_name[name] for name in sorted(by_name)]
        return tuple(self._with_default(models))

    def _parse(self, path: Path) -> Iterator[PlatformModelSpec]:
        # Resolved first: the reader refuses a symlinked file, and operators (Kubernetes
        # config maps, dotfile managers) link these; the directory is theirs, not an agent's.
        for name, value in read_yaml_mapping(path.resolve()).items():
            entry = mapping(value, f"model {name!r}")
            if not NAME_PATTERN.match(name):
                raise InvalidFile(f"name {name!r} must match {NAME_PATTERN.pattern}")
            provider = optional(entry, "provider", str)
            if provider not in MODEL_PROVIDERS:
                raise InvalidFile(
                    f"model {name!r}: provider must be one of {sorted(MODEL_PROVIDERS)}"
                )
            url = optional(entry, "url", str)
            if provider == "openai-compatible" and not url:
                raise InvalidFile(f"model {name!r}: an openai-compatible model needs a url")
            api_key, has_key = self._key(name, provider, entry)
            options = optional(entry, "options", dict)
            metadata = optional(entry, "metadata", dict)
            yield PlatformModelSpec(
                name=name,
                provider=provider,
                model_name=optional(entry, "name", str) or name,
                url=url,
                api_key=api_key,
                has_key=has_key,
                context_window_tokens=positive_int(entry, "contextWindowTokens"),
                is_default=flag(entry, "default", False),
                options={} if options is None else mapping(options, "options"),
                metadata=None if metadata is None else mapping(metadata, "metadata"),
            )

    def _key(self, name: str, provider: str, entry: dict[str, Any]) -> tuple[str | None, bool]:
        key, key_env = optional(entry, "key", str), optional(entry, "keyEnv", str)
        if key is not None and key_env is not None:
            raise InvalidFile(f"model {name!r}: give key or keyEnv, not both")
        if key is not None:
            return key, True
        if key_env is not None:
            value = self.env.get(key_env) or None
            if value is None:
                log.warning("platform model %r: variable %s is not set", name, key_env)
            return value, value is not None
        sdk_variable = SDK_KEY_ENV.get(provider)
        return None, bool(sdk_variable and self.env.get(sdk_variable))

    def _with_default(self, models: list[PlatformModelSpec]) -> list[PlatformModelSpec]:
        marked = [m.name for m in models if m.is_default]
        if len(marked) > 1:
            log.warning("platform models %s are all marked default; %r is", marked, marked[0])
        chosen = marked[0] if marked else DEFAULT_NAME
        if chosen != DEFAULT_NAME and any(m.name == DEFAULT_NAME for m in models):
            log.warning("platform model 'default' is shadowed by %r (marked default)", chosen)
        if not any(m.name == chosen for m in models):
            models = sorted([*models, self._default_from_env()], key=lambda m: m.name)
        return [replace(m, is_default=m.name == chosen) for m in models]

    def _default_from_env(self) -> PlatformModelSpec:
        for provider in ("openai", "anthropic"):
            if self.env.get(SDK_KEY_ENV[provider]):
                model_name = self._default_models[provider]
                return PlatformModelSpec(DEFAULT_NAME, provider, model_name, has_key=True)
        return PlatformModelSpec(DEFAULT_NAME, "scripted", "scripted")


class Watcher:
    """`current` when watching began, then `next()` for each newer snapshot. A snapshot is
    the whole state, so a slow watcher keeps only the newest: it never holds up a refresh."""

    def __init__(self, current: Snapshot) -> None:
        self.current = current
        self.ended = False  # the server is shutting down: the watch is over
        self._newer: asyncio.Queue[Snapshot] = asyncio.Queue(maxsize=1)

    def end(self) -> None:
        self.ended = True
        self.offer(self.current)  # wakes a waiting `next()`

    def offer(self, snapshot: Snapshot) -> None:
        if self._newer.full():
            self._newer.get_nowait()
        self._newer.put_nowait(snapshot)

    async def next(self, timeout_s: float) -> Snapshot | None:
        """The next snapshot, or None when `timeout_s` passes without one."""
        try:
            return await asyncio.wait_for(self._newer.get(), timeout_s)
        except TimeoutError:
            return None


def _model_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
