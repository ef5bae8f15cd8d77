"""From a model ref (`platform/<name>`, `workspace/<name>`) to what a provider needs to call it.

Workspace models are written by agents, `url` included, so they may not spend the server's
secrets at will. A workspace model uses exactly the credential it names: its own non-blank `key`,
or the value of a `keyEnv` variable that the setting `model_key_env_allowlist` lists (any other
variable is refused, 403 `model_key_not_allowed`; a listed one that is unset or blank is 409
`model_key_missing`). Anything else (no key, an empty, null or blank one) means no key at all,
and never the SDK's own variable (OPENAI_API_KEY, ANTHROPIC_API_KEY). Its provider client is
sealed against the server's environment (`ProviderConfig.sdk_env_fallbacks` stays False): no
key, token, profile, organization, custom header or base URL variable reaches the model's URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from corral.core.llm.platform_models import ModelRegistry
from corral.core.workspace.catalog import Catalog
from corral.core.workspace.declarations import ModelSpec, Source
from corral.errors import CorralError
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
                    sdk_env_fallbacks=False,  # sealed: nothing of the server's environment
                ),
            )
    raise CorralError.not_found("model_not_found", "model", ref)


def _workspace_key(
    model: ModelSpec, allowlist: frozenset[str], env: Mapping[str, str]
) -> str | None:
    """The credential `model` names, or None: it has none, and its client gets none."""
    if model.api_key and model.api_key.strip():
        return model.api_key
    variable = model.api_key_env
    if not variable or not variable.strip():
        return None
    if variable not in allowlist:
        raise CorralError(
            "model_key_not_allowed",
            f"workspace model {model.name!r} would use the server variable {variable}, which "
            "model_key_env_allowlist does not list; give the model its own key",
            {"model": model.ref, "keyEnv": variable},
        )
    value = env.get(variable)
    if not value or not value.strip():
        raise CorralError(
            "model_key_missing",
            f"workspace model {model.name!r}: the variable {variable} is not set",
            {"model": model.ref, "keyEnv": variable},
        )
    return value
