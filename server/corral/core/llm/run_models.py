"""The model a run or a compaction calls: its ref resolved (platform or workspace model) and
the registry's shared provider client for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from corral.core.llm.platform_models import ModelRegistry
from corral.core.llm.resolution import resolve_model
from corral.core.workspace.catalog import Catalog
from corral.providers.base import ModelProvider


@dataclass(frozen=True)
class RunModel:
    ref: str
    provider: ModelProvider
    provider_name: str
    model_name: str
    options: dict[str, Any]


class ModelResolver:
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    async def resolve(self, ref: str | None, catalog: Catalog | None) -> RunModel:
        resolved = resolve_model(ref, catalog, self.registry)
        config = resolved.provider_config
        return RunModel(
            ref=resolved.ref,
            provider=self.registry.provider(config),
            provider_name=resolved.provider,
            model_name=resolved.model_name,
            options=dict(config.options),
        )
