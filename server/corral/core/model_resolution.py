"""From a model ref (`platform/<name>`, `workspace/<name>`) to what a provider needs to call it.

Workspace models are written by agents, so they may not spend the server's secrets at will: a
key comes from the model's own `key`, or from a `keyEnv` variable that the setting
`model_key_env_allowlist` names. A workspace model of a provider whose SDK falls back to its
own variable (OPENAI_API_KEY, ANTHROPIC_API_KEY) when given no key is held to the same rule
for that variable: otherwise pointing `url` at any server would hand it the platform's key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from corral.core.catalog import Catalog
from corral.core.declarations import ModelSpec, Source
from corral.core.errors import CorralError
from corral.core.platform_models import SDK_KEY_ENV, ModelRegistry
from corral.providers.config import ProviderConfig, ProviderName

DEFAULT_REF = "platform/default"


@dataclass(frozen=True)
class ResolvedModel:
    ref: str  # as asked for; `platform/default` stays so
    source: Source
    name: str  # the platform or workspace model's name (`default` resolves to the real one)
    provider: str
    model_name: str  # the provider's own name for the model
    context_window_tokens: int | None
    provider_config: ProviderConfig


def resolve_model(
    ref: str | None, catalog: Catalog | None, registry: ModelRegistry
) -> ResolvedModel:
    """Resolve `ref` (None: `platform/default`) against the registry's current platform models
    and `catalog`'s workspace models (None: no workspace); keys come from the registry's
    environment. Raises CorralError 404 `model_not_found`, 403 `model_key_not_allowed`,
    409 `model_key_missing`."""
    ref = ref or DEFAULT_REF
    source, _, name = ref.partition("/")
    if source == "platform":
        platform = registry.snapshot.get(name)
        if platform is not None:
            return ResolvedModel(
                ref=ref,
                source="platform",
                name=platform.name,
                provider=platform.provider,
                model_name=platform.model_name,
                context_window_tokens=platform.context_window_tokens,
                provider_config=platform.provider_config(),
            )
    elif source == "workspace" and catalog is not None:
        workspace = catalog.model(ref)
        if workspace is not None:
            return ResolvedModel(
                ref=ref,
                source="workspace",
                name=workspace.name,
                provider=workspace.provider,
                model_name=workspace.model_name,
                context_window_tokens=None,
                provider_config=ProviderConfig(
                    provider=cast(ProviderName, workspace.provider),  # checked by the catalog
                    model_name=workspace.model_name,
                    base_url=workspace.url,
                    api_key=_workspace_key(workspace, registry.key_env_allowlist, registry.env),
                    options={},
                ),
            )
    raise CorralError.not_found("model_not_found", "model", ref)


def _workspace_key(
    model: ModelSpec, allowlist: frozenset[str], env: Mapping[str, str]
) -> str | None:
    if model.api_key is not None:
        return model.api_key
    variable = model.api_key_env or SDK_KEY_ENV.get(model.provider)
    if variable is None:
        return None  # a keyless provider (scripted, or an openai-compatible server)
    if variable not in allowlist:
        raise CorralError(
            "model_key_not_allowed",
            403,
            f"workspace model {model.name!r} would use the server variable {variable}, which "
            "model_key_env_allowlist does not list; give the model its own key",
            {"model": model.ref, "keyEnv": variable},
        )
    value = env.get(variable)
    if not value:
        raise CorralError(
            "model_key_missing",
            409,
            f"workspace model {model.name!r}: the variable {variable} is not set",
            {"model": model.ref, "keyEnv": variable},
        )
    return value
